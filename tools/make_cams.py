"""CAM or AdvCAM class maps of a split (paper Sec. 3; the authors' ``obtain_CAM_masking.py``).

The command line of advcam_mm.stages.class_maps, whose docstring lists its inputs, outputs and settings.
"""
from advcam_mm.stages.class_maps import main

if __name__ == '__main__':
    main()
