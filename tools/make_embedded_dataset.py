"""The embedded dataset (:mod:`advcam_mm.datasets.embedded_dataset`), generated once per setting.

The command line of advcam_mm.stages.embedded_data, whose docstring lists its inputs, outputs and settings.
"""
from advcam_mm.stages.embedded_data import main

if __name__ == '__main__':
    main()
