"""Inter-pixel relation labels from class maps (IRN's ``step/cam_to_ir_label.py``).

The command line of advcam_mm.stages.ir_labels, whose docstring lists its inputs, outputs and settings.
"""
from advcam_mm.stages.ir_labels import main

if __name__ == '__main__':
    main()
