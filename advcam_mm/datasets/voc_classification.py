"""PASCAL VOC 2012 multi-label image classification (the classifier that AdvCAM attacks)."""
import os.path as osp

import numpy as np

from mmseg.registry import DATASETS

from .cls_labels import cls_labels_from_masks, load_cls_labels
from .voc_base import VOCBaseDataset


@DATASETS.register_module()
class VOCClassificationDataset(VOCBaseDataset):
    """Images of a VOC split with multi-hot image labels, as IRN's ``VOC12ClassificationDataset``.

    Each data info holds ``img_path``, ``img_id``, ``gt_class_labels``
    (float32 multi-hot over the ``K = num_classes - 1`` foreground classes;
    entry ``k`` is mask value ``k + 1``), ``seg_map_path`` when a mask folder
    is given, ``reduce_zero_label=False`` and ``seg_fields=[]``. Pack it with
    ``PackMultiLabelInputs``.

    Args:
        ann_file (str): split list; default ``'ImageSets/Segmentation/train_aug.txt'``.
        cls_labels_file (str | None): IRN ``cls_labels.npy`` (relative to
            ``data_root`` or absolute). ``None``: derive the labels from the
            masks in ``mask_dir`` (a class is present when one pixel has it).
        mask_dir (str, optional): mask folder (e.g. ``'SegmentationClassAug'``);
            needed when ``cls_labels_file`` is None, otherwise only adds
            ``seg_map_path`` to the samples.
        data_prefix (dict): ``img_path`` folder, default ``'JPEGImages'``.
        metainfo (dict, optional): ``classes`` (background first) and ``palette``;
            default the 21 VOC classes.
    """

    def __init__(self, ann_file='ImageSets/Segmentation/train_aug.txt', cls_labels_file='cls_labels.npy',
                 mask_dir=None, data_prefix=dict(img_path='JPEGImages'), **kwargs):
        self.cls_labels_file = cls_labels_file
        if cls_labels_file is None and mask_dir is None and not dict(data_prefix).get('seg_map_path'):
            raise ValueError('VOCClassificationDataset: cls_labels_file=None derives the labels from masks, '
                             "so mask_dir (e.g. 'SegmentationClassAug') is required")
        if kwargs.pop('reduce_zero_label', False):
            raise ValueError('VOCClassificationDataset: reduce_zero_label must be False (VOC masks '
                             'keep 0 for background)')
        super().__init__(ann_file=ann_file, mask_dir=mask_dir, data_prefix=data_prefix,
                         reduce_zero_label=False, **kwargs)

    def _join_prefix(self):
        super()._join_prefix()
        if self.cls_labels_file and self.data_root and not osp.isabs(self.cls_labels_file):
            self.cls_labels_file = osp.join(self.data_root, self.cls_labels_file)

    def load_data_list(self):
        ids = self.read_split_ids()
        infos = [self.make_data_info(i) for i in ids]
        if self.cls_labels_file is not None:
            labels = load_cls_labels(self.cls_labels_file, ids, self.num_classes)
        else:
            derived = cls_labels_from_masks(self.data_prefix['seg_map_path'], ids, self.num_classes,
                                            suffix=self.seg_map_suffix, ignore_index=self.ignore_index)
            labels = np.stack([derived[i] for i in ids])
        for info, label in zip(infos, labels):
            info['gt_class_labels'] = label.astype(np.float32)
        return infos

    @property
    def class_labels(self):
        """(N, K) float32 multi-hot labels of all samples, in order."""
        return np.stack([self.get_data_info(i)['gt_class_labels'] for i in range(len(self))])
