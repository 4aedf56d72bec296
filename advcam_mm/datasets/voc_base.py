"""Shared PASCAL VOC 2012 plumbing of the classification and segmentation datasets.

Layout (``data_root`` = the ``VOC2012`` folder)::

    JPEGImages/<id>.jpg
    SegmentationClass/<id>.png, SegmentationClassAug/<id>.png   (class indices, 255 = ignore)
    ImageSets/Segmentation/{train,train_aug,val}.txt              (one id per line)
    cls_labels.npy                                                (image labels, IRN format)

Differences from mmseg's ``PascalVOCDataset``:

* ``metainfo=dict(classes=...)`` *names* the mask indices (index ``i`` is
  ``classes[i]``, background first) instead of selecting a subset of the 21
  VOC classes by name, so a dataset with other classes (the embedded one) runs
  with only ``data_root`` and ``classes`` changed; no ``label_map`` remapping
  is done. A palette is taken from the VOC palette when not given.
* Missing folders/files are reported with the id and the path at
  construction time, not as a bare ``assert`` or a failure in a worker.
"""
import os.path as osp

import mmengine
import numpy as np

from mmseg.datasets import BaseSegDataset

from ..fileio.label_png import voc_palette

VOC_CLASSES = ('background', 'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat',
               'chair', 'cow', 'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant',
               'sheep', 'sofa', 'train', 'tvmonitor')



VOC_PALETTE = voc_palette(len(VOC_CLASSES))


class VOCBaseDataset(BaseSegDataset):
    """VOC-layout dataset listed by a split file; base of the classification and segmentation datasets.

    Args:
        ann_file (str): split list, relative to ``data_root`` or absolute.
        mask_dir (str, optional): folder of class-index PNGs, relative to
            ``data_root`` or absolute (e.g. a pseudo-label folder). Overrides
            ``data_prefix['seg_map_path']``; giving both, different, is an error.
        check_files (bool): check at construction that every listed image
            (and mask) exists, naming the id and the path when not.
        Other arguments as mmseg's ``BaseSegDataset``.
    """
    METAINFO = dict(classes=VOC_CLASSES, palette=VOC_PALETTE)
    #: Where a split's id list lives, relative to ``data_root`` (what a stage's ``--split NAME`` means).
    SPLIT_FILE = 'ImageSets/Segmentation/{split}.txt'
    # What data_root should be, for the error when it is missing.
    DATA_ROOT_HINT = ('the VOC2012 folder holding JPEGImages/, ImageSets/Segmentation/, ...; make the '
                      'embedded dataset with tools/make_embedded_dataset.py')

    @classmethod
    def split_settings(cls, split: str) -> dict:
        """The dataset config entries that select ``split``: a split name (``SPLIT_FILE``) or a list file."""
        if split.endswith('.txt') or osp.sep in split:
            return dict(ann_file=split)
        return dict(ann_file=cls.SPLIT_FILE.format(split=split))

    def __init__(self, ann_file='', mask_dir=None, data_prefix=dict(img_path='JPEGImages'),
                 img_suffix='.jpg', seg_map_suffix='.png', check_files=True, **kwargs):
        data_prefix = dict(data_prefix)
        if mask_dir is not None:
            given = data_prefix.get('seg_map_path')
            if given and given != mask_dir:
                raise ValueError(f'mask_dir={mask_dir!r} and data_prefix seg_map_path={given!r} '
                                 f'disagree: give only one')
            data_prefix['seg_map_path'] = mask_dir
        elif not data_prefix.get('seg_map_path'):
            data_prefix.pop('seg_map_path', None)
        self.check_files = check_files
        self._given_metainfo = dict(kwargs.get('metainfo') or {})
        super().__init__(ann_file=ann_file, img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         data_prefix=data_prefix, **kwargs)

    # -- metainfo: classes name mask indices, no remapping -------------------------------------
    @classmethod
    def get_label_map(cls, new_classes=None):
        """No remapping: ``classes[i]`` is the name of mask value ``i`` (see module docstring)."""
        return None

    def _update_palette(self):
        classes = self._metainfo.get('classes', [])
        palette = self._metainfo.get('palette', [])
        if 'classes' in self._given_metainfo and 'palette' not in self._given_metainfo:
            palette = [list(p) for p in self.METAINFO['palette']]
        if len(palette) == len(classes):
            return palette
        if 'palette' in self._given_metainfo:
            raise ValueError(f'{type(self).__name__}: metainfo palette has {len(palette)} colours '
                             f'but there are {len(classes)} classes {tuple(classes)}')
        if len(palette) > len(classes):
            return palette[:len(classes)]
        return voc_palette(len(classes))

    @property
    def num_classes(self):
        """Number of classes including background (mask values 0..num_classes-1)."""
        return len(self._metainfo['classes'])

    # -- split list and file checks ------------------------------------------------------------
    def _check_data_root(self):
        if self.data_root is not None and not osp.isdir(self.data_root):
            raise FileNotFoundError(
                f'{type(self).__name__}: data_root {self.data_root} does not exist (expected '
                f'{self.DATA_ROOT_HINT})')

    def read_split_ids(self):
        """Ids of the split file ``ann_file`` (stripped, blank lines skipped)."""
        self._check_data_root()
        if not self.ann_file:
            raise ValueError(f'{type(self).__name__}: ann_file (the split list, e.g. '
                             f'ImageSets/Segmentation/train_aug.txt) is required')
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'{type(self).__name__}: split file not found: {self.ann_file}')
        ids = [line.strip() for line in mmengine.list_from_file(self.ann_file)]
        ids = [i.split()[0] for i in ids if i]
        if not ids:
            raise ValueError(f'split file {self.ann_file} lists no image ids')
        return ids

    def _check_exists(self, kind, folder, image_id, path):
        if not osp.isfile(path):
            if not osp.isdir(folder):
                raise FileNotFoundError(f'{type(self).__name__}: {kind} folder not found: {folder} '
                                        f'(needed by split {self.ann_file})')
            raise FileNotFoundError(f'{type(self).__name__}: {kind} of id {image_id!r} listed in '
                                    f'{self.ann_file} not found: {path}')

    def make_data_info(self, image_id):
        """The mmseg data info of one id (paths, img_id, seg_fields, ...), checked when asked."""
        img_dir = self.data_prefix['img_path']
        info = dict(img_path=osp.join(img_dir, image_id + self.img_suffix), img_id=image_id)
        if self.check_files:
            self._check_exists('image', img_dir, image_id, info['img_path'])
        mask_dir = self.data_prefix.get('seg_map_path')
        if mask_dir:
            info['seg_map_path'] = osp.join(mask_dir, image_id + self.seg_map_suffix)
            if self.check_files:
                self._check_exists('mask', mask_dir, image_id, info['seg_map_path'])
        info.update(label_map=None, reduce_zero_label=self.reduce_zero_label, seg_fields=[],
                    num_classes=self.num_classes, ignore_index=self.ignore_index)
        return info

    def load_data_list(self):
        return [self.make_data_info(i) for i in self.read_split_ids()]

    def prepare_data(self, idx):
        """Run the pipeline, then reject foreign mask values naming the file (works with stock pipelines)."""
        packed = super().prepare_data(idx)
        check_packed_seg_values(packed, self.num_classes, self.ignore_index,
                                self.get_data_info(idx).get('seg_map_path', '<unknown mask file>'))
        return packed

    def image_ids(self):
        """Ids of the loaded samples, in order."""
        return [self.get_data_info(i)['img_id'] for i in range(len(self))]


def check_packed_seg_values(packed, num_classes, ignore_index, path):
    """Raise ``ValueError`` naming the mask ``path`` when a packed ``gt_sem_seg`` has foreign values.

    Applied by the datasets after the pipeline so that stock mmseg pipelines
    (``LoadAnnotations`` + ``PackSegInputs``) also reject corrupt masks.
    """
    if not isinstance(packed, dict):
        return
    sample = packed.get('data_samples')
    if sample is None or not hasattr(sample, 'gt_sem_seg') or 'gt_sem_seg' not in sample:
        return
    values = np.unique(sample.gt_sem_seg.data.cpu().numpy())
    bad = values[((values < 0) | (values >= num_classes)) & (values != ignore_index)]
    if bad.size:
        raise ValueError(f'mask {path} has values {bad.tolist()[:10]} outside the class indices '
                         f'0..{num_classes - 1} and the ignore index {ignore_index} ({num_classes} classes)')
