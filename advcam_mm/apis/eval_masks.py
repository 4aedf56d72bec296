"""Pseudo-mask evaluation: mIoU and per-class IoU of a folder of label PNGs against ground truth.

The paper's "Mask" column (IRN / AdvCAM ``step/eval_sem_seg.py``: chainercv's
confusion over the split, ignored ground-truth pixels left out). Per-image
confusion matrices are computed in worker processes and summed.
"""
import functools
import os
import time

from ..core.miou import IGNORE_INDEX, confusion_matrix, iou_from_confusion, mean_iou
from ..fileio.label_png import label_png_path, load_label_png
from .eval_seeds import add_grown, check_files_exist, map_images, read_image_ids, resolve_classes


def _mask_confusion(image_id, mask_dir, gt_dir, num_classes):
    pred_path = label_png_path(mask_dir, image_id)
    gt_path = label_png_path(gt_dir, image_id)
    pred = load_label_png(pred_path, 'pseudo mask')
    gt = load_label_png(gt_path, 'ground-truth mask')
    if pred.shape != gt.shape:
        raise ValueError(f'{pred_path}: mask of size {pred.shape} but ground truth {gt_path} is {gt.shape}')
    if num_classes is None:
        valid = gt[gt != IGNORE_INDEX]
        num_classes = int(max(pred.max(initial=0), valid.max(initial=0))) + 1
    bad = pred[pred >= num_classes]
    if bad.size:
        raise ValueError(f'{pred_path}: mask value {int(bad.max())} outside the {num_classes} classes')
    try:
        return confusion_matrix(pred, gt, num_classes)
    except ValueError as error:
        raise ValueError(f'{gt_path}: {error}') from error


def evaluate_masks(mask_dir, data_root, split='train', gt_dir='SegmentationClass', num_workers=2,
                   class_names=None, num_classes=None, start_method=None, progress=True) -> dict:
    """mIoU of ``<mask_dir>/<id>.png`` over the ids of ``split``.

    Args:
        mask_dir: folder of pseudo-mask PNGs (class ids, no 255).
        data_root: the ``VOC2012`` folder (split list and ground truth).
        split: ``ImageSets/Segmentation/<split>.txt`` or a list file path.
        gt_dir: ground-truth folder under ``data_root`` (255 ignored).
        num_workers: worker processes (0 or 1: in this process).
        class_names: names including background; fixes the number of classes.
        num_classes: number of classes if no names are given; if neither is,
            the largest label found plus one.

    Returns:
        dict with ``miou``, ``iou`` (per class, NaN for a class absent from
        both masks and ground truth), ``class_names``, ``num_images``, ``seconds``.
    """
    class_names, num_classes = resolve_classes(class_names, num_classes)
    image_ids = read_image_ids(data_root, split)
    gt_dir = os.path.join(data_root, gt_dir)
    check_files_exist(image_ids, mask_dir, label_png_path, 'pseudo mask',
                       ' (run tools/make_sem_seg_labels.py first)')
    check_files_exist(image_ids, gt_dir, label_png_path, 'ground-truth mask')
    start = time.perf_counter()
    work = functools.partial(_mask_confusion, mask_dir=mask_dir, gt_dir=gt_dir, num_classes=num_classes)
    total = None
    for counts in map_images(work, image_ids, num_workers, start_method, progress):
        total = add_grown(total, counts)
    if class_names is None:
        class_names = ['background'] + [f'class_{i}' for i in range(1, total.shape[-1])]
    iou = iou_from_confusion(total)
    return {'miou': float(mean_iou(total)), 'iou': [float(v) for v in iou], 'class_names': class_names,
            'num_images': len(image_ids), 'seconds': time.perf_counter() - start}
