"""Seed mIoU of a class-map folder (the paper's "Seed" and "+CRF" columns, Table 1).

The command line of advcam_mm.stages.seed_evaluation, whose docstring lists its inputs, outputs and settings.
"""
from advcam_mm.stages.seed_evaluation import main

if __name__ == '__main__':
    main()
