"""Pseudo masks of a segmentation training set, from class maps (paper Sec. 4.1).

The command line of advcam_mm.stages.pseudo_masks, whose docstring lists its inputs, outputs and settings.
"""
from advcam_mm.stages.pseudo_masks import main

if __name__ == '__main__':
    main()
