"""The data transform of IRNet training that MMSeg lacks: rescaling by a random factor.

IRN trains IRNet (``voc12/dataloader.py`` VOC12SegmentationDataset with
``rescale=(0.5, 1.5)``) on images (1) rescaled by a factor drawn uniformly
from [0.5, 1.5] (PIL bicubic for the image, nearest for the IR label),
(2) normalised, (3) flipped horizontally with p=0.5, (4) randomly cropped to
512 padding the image with 0 (after normalisation) and the label with 255.
(1) is :class:`RandomRescale`; (3) is mmseg's ``RandomFlip``, (4)
:class:`advcam_mm.datasets.transforms.RandomCropPad`, (2) the model's
``data_preprocessor``. mmcv's ``RandomResize(ratio_range=...)`` scales a fixed
target size, not the image's own size, so it does not fit.
"""
import numpy as np
from mmcv.transforms import BaseTransform

from mmseg.registry import TRANSFORMS

from .transforms import rescale_results


@TRANSFORMS.register_module()
class RandomRescale(BaseTransform):
    """Rescale image and seg maps by one factor drawn uniformly from ``scale_range`` (IRN's ``random_scale``).

    New size ``(round(h * s), round(w * s))``; the image bicubic, seg maps
    (``seg_fields``) nearest neighbour, as IRN's ``pil_rescale``.

    Modified keys: img, img_shape, scale_factor, keep_ratio, and each of seg_fields.
    """

    def __init__(self, scale_range=(0.5, 1.5)):
        low, high = (float(s) for s in scale_range)
        if not 0 < low <= high:
            raise ValueError(f'RandomRescale needs 0 < low <= high, got scale_range {scale_range}')
        self.scale_range = (low, high)

    def transform(self, results):
        low, high = self.scale_range
        scale = low + np.random.random() * (high - low)
        return rescale_results(results, scale)

    def __repr__(self):
        return f'{type(self).__name__}(scale_range={self.scale_range})'
