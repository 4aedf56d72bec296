"""MS COCO 2014 semantic segmentation (81 labels, 255 ignore) with masks from a configurable folder."""
from mmseg.registry import DATASETS

from .coco_classification import COCO_DATA_ROOT_HINT, COCOSplit
from .coco_metainfo import COCO_CLASSES, coco_palette, mask_folder, split_list_file
from .voc_segmentation import VOCSegmentationDataset


@DATASETS.register_module()
class COCOSegmentationDataset(COCOSplit, VOCSegmentationDataset):
    """COCO segmentation samples of a split whose masks come from ``mask_dir`` (layout: :mod:`.coco_metainfo`).

    ``split`` names the image folder (``<split>/<id>.jpg``), the list
    (``ImageSets/<split>.txt``) and the default masks
    (``SegmentationClass/<split>``, the converted ground truth); a pseudo-label
    or IR-label folder is given as ``mask_dir`` (absolute, or relative to
    ``data_root``). Class-index PNGs with 0 = background, 1..80 = COCO's
    categories, 255 = ignore; stock mmseg pipelines and ``IoUMetric`` work
    unchanged. Checks as :class:`VOCSegmentationDataset`: a missing image or
    mask named at construction, mask values outside 0..80/255 named when the
    sample is loaded.

    Args:
        split (str): ``'train2014'`` or ``'val2014'``.
        ann_file, mask_dir, data_prefix: override the split's list, masks and image folder.
    """
    METAINFO = dict(classes=COCO_CLASSES, palette=coco_palette())
    DATA_ROOT_HINT = COCO_DATA_ROOT_HINT

    def __init__(self, split='train2014', ann_file=None, mask_dir=None, data_prefix=None, **kwargs):
        self.split = split
        data_prefix = dict(data_prefix or dict(img_path=split))
        if mask_dir is None and not data_prefix.get('seg_map_path'):
            mask_dir = mask_folder(split)
        super().__init__(ann_file=ann_file or split_list_file(split), mask_dir=mask_dir,
                         data_prefix=data_prefix, **kwargs)
