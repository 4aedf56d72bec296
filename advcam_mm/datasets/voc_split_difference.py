"""A VOC segmentation split minus another split: the weakly-labelled part of a semi-supervised setting."""
import os.path as osp

import mmengine
from mmseg.registry import DATASETS

from .voc_segmentation import VOCSegmentationDataset


def split_difference(ids, excluded):
    """``ids`` without those in ``excluded``, order kept (e.g. train_aug minus train = 9,118 VOC ids)."""
    excluded = set(excluded)
    return [i for i in ids if i not in excluded]


@DATASETS.register_module()
class VOCSplitDifferenceDataset(VOCSegmentationDataset):
    """VOC segmentation samples listed in ``ann_file`` but not in ``exclude_ann_file``.

    The semi-supervised VOC setting of CCT (Ouali et al., CVPR 2020) and
    AdvCAM (Sec. 5.3): the 1,464 ``train`` images are pixel-labelled and the
    other ``train_aug`` images (10,582 - 1,464 = 9,118) only weakly, so their
    masks come from a pseudo-label folder: ``ann_file='.../train_aug.txt'``,
    ``exclude_ann_file='.../train.txt'``, ``mask_dir=<pseudo masks>``. Both
    lists are relative to ``data_root`` or absolute. Other arguments as
    :class:`VOCSegmentationDataset`.
    """

    def __init__(self, ann_file, exclude_ann_file, **kwargs):
        if not exclude_ann_file:
            raise ValueError('VOCSplitDifferenceDataset: exclude_ann_file (the split to leave out, e.g. '
                             'ImageSets/Segmentation/train.txt) is required')
        self.exclude_ann_file = exclude_ann_file
        super().__init__(ann_file=ann_file, **kwargs)

    def _excluded_path(self):
        path = self.exclude_ann_file
        if not osp.isabs(path) and self.data_root:
            path = osp.join(self.data_root, path)
        return path

    def read_split_ids(self):
        ids = super().read_split_ids()
        path = self._excluded_path()
        if not osp.isfile(path):
            raise FileNotFoundError(f'{type(self).__name__}: exclude_ann_file not found: {path}')
        excluded = [line.strip().split()[0] for line in mmengine.list_from_file(path) if line.strip()]
        kept = split_difference(ids, excluded)
        if not kept:
            raise ValueError(f'{type(self).__name__}: every id of {self.ann_file} is also in {path}: '
                             f'nothing is left')
        return kept
