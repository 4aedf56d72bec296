"""The paper's Figure 6, seed mIoU and proportion of noise at every AdvCAM iteration.

The command line of advcam_mm.stages.advcam_analysis, whose docstring lists its inputs, outputs and settings.
"""
from advcam_mm.stages.advcam_analysis import main

if __name__ == '__main__':
    main()
