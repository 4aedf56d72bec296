"""Convert MS COCO 2014 instance annotations to semantic masks, split lists and image labels.

    python tools/convert_coco.py --data-root data/coco2014 --num-workers 16

The command line of advcam_mm.stages.coco_conversion, whose docstring lists its inputs, outputs and settings.
"""
from advcam_mm.stages.coco_conversion import main

if __name__ == '__main__':
    main()
