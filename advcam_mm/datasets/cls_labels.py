"""Image-level (multi-label) class labels: the ``cls_labels.npy`` file of IRN.

IRN's ``voc12/cls_labels.npy`` is a pickled dict ``image id -> float32
multi-hot vector`` over the 20 VOC foreground classes (background is not a
class of the classifier).  IRN keys the dict by integer ids (``2007000032``
for ``2007_000032``); here keys are the string ids of the split files, and
IRN's integer keys are accepted when reading.

``num_classes`` always counts *all* classes including background (21 for
VOC), as mmseg's class lists do; label vectors have ``num_classes - 1``
entries, entry ``k`` standing for mask value ``k + 1``.

Pure numpy/PIL (no mmseg), so tools and tests can use it alone.
"""
import os
import os.path as osp

import numpy as np

from advcam_mm.core.labels import IGNORE_INDEX
from advcam_mm.fileio.atomic import atomic_save_npy
from advcam_mm.fileio.label_png import load_label_png


def _irn_int_key(image_id):
    """IRN's integer key for a VOC id ('2007_000032' -> 2007000032), or None."""
    digits = str(image_id).replace('_', '')
    return int(digits) if digits.isdigit() else None


def class_labels_of_mask(mask, num_classes, ignore_index=IGNORE_INDEX):
    """Multi-hot float32 vector (num_classes - 1,) of the foreground classes in ``mask``."""
    values = np.unique(np.asarray(mask))
    values = values[(values > 0) & (values < num_classes) & (values != ignore_index)]
    labels = np.zeros(num_classes - 1, dtype=np.float32)
    labels[values.astype(np.int64) - 1] = 1.0
    return labels


def cls_labels_from_masks(mask_dir, ids, num_classes, suffix='.png', ignore_index=IGNORE_INDEX):
    """Derive image labels from class-index masks, as IRN derives them from the XML annotations.

    A class is present when at least one pixel has its index; 0 (background)
    and ``ignore_index`` are not classes.  Returns ``dict id -> float32
    (num_classes - 1,)``.  A missing mask or a value outside
    ``0..num_classes-1``/``ignore_index`` raises an error naming the file.
    """
    if not osp.isdir(mask_dir):
        raise FileNotFoundError(f'mask folder not found: {mask_dir}')
    labels = {}
    for image_id in ids:
        path = osp.join(mask_dir, str(image_id) + suffix)
        mask = load_label_png(path, 'mask', num_classes, ignore_index)
        labels[str(image_id)] = class_labels_of_mask(mask, num_classes, ignore_index)
    return labels


def save_cls_labels(path, labels):
    """Write ``dict id -> multi-hot`` as IRN's pickled ``cls_labels.npy`` (atomically)."""
    labels = {str(k): np.asarray(v, dtype=np.float32) for k, v in labels.items()}
    lengths = {v.shape for v in labels.values()}
    if len(lengths) > 1:
        raise ValueError(f'cannot write {path}: label vectors have different shapes {sorted(lengths)}')
    atomic_save_npy(path, labels)


def read_cls_labels_file(path):
    """Load the raw dict of a ``cls_labels.npy`` file, with clear errors for a missing/invalid file."""
    path = os.fspath(path)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'class label file not found: {path} (write it with tools/make_cls_labels.py, '
            f'or derive the labels from masks with cls_labels_file=None)')
    try:
        content = np.load(path, allow_pickle=True)
        labels = content.item() if content.dtype == object and content.shape == () else content
    except Exception as e:
        raise ValueError(f'cannot read class label file {path}: {e}') from e
    if not isinstance(labels, dict):
        raise ValueError(
            f'class label file {path} holds {type(labels).__name__}, expected a pickled dict '
            f'image id -> multi-hot vector (IRN cls_labels.npy format)')
    return labels


def load_cls_labels(path, ids, num_classes):
    """Labels of ``ids`` from ``cls_labels.npy`` as a float32 array (len(ids), num_classes - 1).

    Every id must be in the file (string key, or IRN's integer key) with a
    vector of ``num_classes - 1`` finite values in [0, 1]; otherwise a
    ``ValueError`` names the file, the id(s) and the lengths.
    """
    labels = read_cls_labels_file(path)
    num_fg = num_classes - 1
    out = np.zeros((len(ids), num_fg), dtype=np.float32)
    missing = []
    for i, image_id in enumerate(ids):
        image_id = str(image_id)
        vector = labels.get(image_id)
        if vector is None:
            int_key = _irn_int_key(image_id)
            vector = labels.get(int_key) if int_key is not None else None
        if vector is None:
            missing.append(image_id)
            continue
        vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        if vector.shape[0] != num_fg:
            raise ValueError(
                f'class label file {path}: id {image_id!r} has a vector of length '
                f'{vector.shape[0]}, expected {num_fg} (= {num_classes} classes minus background)')
        if not np.all(np.isfinite(vector)) or vector.min() < 0 or vector.max() > 1:
            raise ValueError(
                f'class label file {path}: id {image_id!r} has values outside [0, 1]: {vector.tolist()}')
        out[i] = vector
    if missing:
        shown = ', '.join(repr(m) for m in missing[:5])
        more = f' and {len(missing) - 5} more' if len(missing) > 5 else ''
        raise ValueError(
            f'class label file {path} has no entry for {len(missing)} id(s) of the split: '
            f'{shown}{more} (regenerate it with tools/make_cls_labels.py)')
    return out


def read_split_file(path):
    """Ids listed in a VOC split file (one per line, blank lines skipped)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'split file not found: {path}')
    with open(path) as f:
        return [line.split()[0] for line in f if line.strip()]


def make_cls_labels_file(data_root, splits=('train_aug', 'val'), mask_dir='SegmentationClassAug',
                         num_classes=21, out=None, on_image=None):
    """Write ``cls_labels.npy`` for the ids of ``splits`` from their masks (IRN's make_cls_labels.py).

    ``splits`` are names under ``ImageSets/Segmentation`` or paths to split
    files; ``mask_dir`` and ``out`` (default ``<data_root>/cls_labels.npy``)
    are relative to ``data_root`` or absolute; ``on_image(total)`` is called
    once per mask read (progress). Returns ``(out_path, labels dict)``.
    """
    if not osp.isdir(data_root):
        raise FileNotFoundError(f'data root not found: {data_root} (expected the VOC2012 folder)')
    ids = []
    for split in splits:
        if split.endswith('.txt'):
            path = split if osp.isabs(split) or osp.isfile(split) else osp.join(data_root, split)
        else:
            path = osp.join(data_root, 'ImageSets', 'Segmentation', split + '.txt')
        ids.extend(read_split_file(path))
    ids = list(dict.fromkeys(ids))  # union of the splits, first-seen order
    mask_dir = mask_dir if osp.isabs(mask_dir) else osp.join(data_root, mask_dir)
    if not osp.isdir(mask_dir):
        raise FileNotFoundError(f'mask folder not found: {mask_dir}')
    labels = {}
    for image_id in ids:
        labels.update(cls_labels_from_masks(mask_dir, [image_id], num_classes))
        if on_image is not None:
            on_image(len(ids))
    out = out or 'cls_labels.npy'
    out = out if osp.isabs(out) else osp.join(data_root, out)
    save_cls_labels(out, labels)
    return out, labels
