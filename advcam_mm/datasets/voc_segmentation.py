"""PASCAL VOC 2012 semantic segmentation with masks from a configurable folder."""
from mmseg.registry import DATASETS

from .voc_base import VOCBaseDataset


@DATASETS.register_module()
class VOCSegmentationDataset(VOCBaseDataset):
    """VOC segmentation samples whose masks come from ``mask_dir``.

    ``mask_dir`` is ``'SegmentationClassAug'`` (ground truth) by default and
    later a pseudo-label folder (AdvCAM's IRN-refined labels), relative to
    ``data_root`` or absolute. Masks are class-index PNGs, ``ignore_index``
    255, no zero-label reduction: mmseg's ``PascalVOCDataset`` conventions,
    so stock pipelines (``LoadImageFromFile``, ``LoadAnnotations``,
    ``PackSegInputs``) and ``IoUMetric`` work unchanged. ``metainfo`` classes
    name the mask indices (background first); see :mod:`.voc_base`.

    Args:
        ann_file (str): split list, e.g. ``'ImageSets/Segmentation/val.txt'``.
        mask_dir (str): mask folder; also settable as ``data_prefix['seg_map_path']``.
        Others as :class:`VOCBaseDataset` / mmseg ``BaseSegDataset``.

    Every listed image and mask must exist (checked at construction, naming
    the id and the path); mask values outside ``0..K-1``/255 raise an error
    naming the mask file when the sample is loaded.
    """

    def __init__(self, ann_file, mask_dir=None, data_prefix=dict(img_path='JPEGImages'), **kwargs):
        if mask_dir is None and not dict(data_prefix).get('seg_map_path'):
            mask_dir = 'SegmentationClassAug'
        super().__init__(ann_file=ann_file, mask_dir=mask_dir, data_prefix=data_prefix, **kwargs)
