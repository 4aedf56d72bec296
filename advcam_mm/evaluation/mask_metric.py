"""Pseudo-mask mIoU: the paper's "Mask" column (IRN / AdvCAM ``step/eval_sem_seg.py``).

A label map against the ground truth, summed over the images as chainercv's
``calc_semantic_segmentation_confusion`` does (ignored ground-truth pixels left
out; a class's IoU is ``TP / (TP + FP + FN)``, the mIoU the mean over classes
present in the ground truth or the masks). A segmentor's predictions are
scored by MMSeg's ``IoUMetric`` with the same definition; this module scores
label maps stored as files (:mod:`advcam_mm.stages.mask_evaluation`).
"""
from typing import Sequence

import numpy as np

from ..core.miou import confusion_matrix, iou_from_confusion, mean_iou


def mask_confusion(pred, gt, num_classes: int, pred_name: str = 'mask', gt_name: str = 'ground truth'):
    """``(n, n)`` confusion of one label map; shape and class-range errors name the files."""
    pred, gt = np.asarray(pred), np.asarray(gt)
    if pred.shape != gt.shape:
        raise ValueError(f'{pred_name}: mask of size {pred.shape} but ground truth {gt_name} is {gt.shape}')
    bad = pred[pred >= num_classes]
    if bad.size:
        raise ValueError(f'{pred_name}: mask value {int(bad.max())} outside the {num_classes} classes')
    try:
        return confusion_matrix(pred, gt, num_classes)
    except ValueError as error:
        raise ValueError(f'{gt_name}: {error}') from error


def mask_result(total: np.ndarray, class_names: Sequence[str]) -> dict:
    """``miou`` and per-class ``iou`` (fractions, NaN for a class absent from both) of summed confusions."""
    return {'miou': float(mean_iou(total)), 'iou': [float(v) for v in iou_from_confusion(total)],
            'class_names': list(class_names)}
