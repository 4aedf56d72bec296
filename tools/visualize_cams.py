"""Per-image panels that follow images through the chain (:func:`advcam_mm.visualization.render_panel`).

The command line of advcam_mm.stages.panels, whose docstring lists its inputs, outputs and settings.
"""
from advcam_mm.stages.panels import main

if __name__ == '__main__':
    main()
