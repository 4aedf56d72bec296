"""MIoU of a pseudo-mask folder (the paper's "Mask" column, Table 1).

The command line of advcam_mm.stages.mask_evaluation, whose docstring lists its inputs, outputs and settings.
"""
from advcam_mm.stages.mask_evaluation import main

if __name__ == '__main__':
    main()
