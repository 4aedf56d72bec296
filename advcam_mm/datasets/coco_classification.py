"""MS COCO 2014 multi-label image classification (the classifier that AdvCAM attacks, on COCO)."""
import os.path as osp

from mmseg.registry import DATASETS

from .coco_metainfo import CLS_LABELS_FILE, COCO_CLASSES, coco_palette, mask_folder, split_list_file
from .voc_classification import VOCClassificationDataset

COCO_DATA_ROOT_HINT = ('the COCO folder holding train2014/, val2014/, annotations/; convert it with '
                       'tools/convert_coco.py, or make the miniature with tools/make_coco_miniature.py')


class COCOSplit:
    """What a COCO split name selects, shared by the COCO datasets (layout: :mod:`.coco_metainfo`)."""
    split = 'train2014'

    @classmethod
    def split_settings(cls, split: str) -> dict:
        """A split name selects the list, the image folder and the default masks; a list file only the list."""
        if split.endswith('.txt') or '/' in split:
            return dict(ann_file=split)
        return dict(split=split, ann_file=None)

    @property
    def identity_folder(self) -> str:
        """The split's converted masks (``SegmentationClass/<split>``), whose stage manifest
        (``tools/convert_coco.py``) identifies the split's list, labels and masks for later stages."""
        return osp.join(self.data_root or '', mask_folder(self.split))


@DATASETS.register_module()
class COCOClassificationDataset(COCOSplit, VOCClassificationDataset):
    """Images of a COCO split with multi-hot labels over the 80 categories (layout: :mod:`.coco_metainfo`).

    The VOC classification dataset on COCO's folders: ``split`` names the
    image folder (``<split>/<id>.jpg``) and the list (``ImageSets/<split>.txt``,
    written by ``tools/convert_coco.py``); the labels come from
    ``cls_labels_coco.npy`` (both splits in one file). Samples and checks as
    :class:`VOCClassificationDataset` (a missing image or label named at
    construction). ``ann_file`` / ``data_prefix`` override the split's.

    Args:
        split (str): ``'train2014'`` or ``'val2014'``.
        cls_labels_file (str | None): default ``'cls_labels_coco.npy'``; None
            derives the labels from the masks in ``mask_dir``.
    """
    METAINFO = dict(classes=COCO_CLASSES, palette=coco_palette())
    DATA_ROOT_HINT = COCO_DATA_ROOT_HINT

    def __init__(self, split='train2014', ann_file=None, cls_labels_file=CLS_LABELS_FILE, data_prefix=None,
                 **kwargs):
        self.split = split
        super().__init__(ann_file=ann_file or split_list_file(split), cls_labels_file=cls_labels_file,
                         data_prefix=data_prefix or dict(img_path=split), **kwargs)
