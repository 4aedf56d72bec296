"""Confusion matrices and mean IoU for label maps (numpy, framework-free).

Follows chainercv's ``calc_semantic_segmentation_confusion`` / ``_iou``, which
IRN's and AdvCAM's ``eval_cam.py`` use: rows are ground truth, columns are
predictions, ignored ground-truth pixels (255) are left out, the IoU of a class
is ``TP / (TP + FP + FN)`` and the mIoU is the mean over classes whose IoU is
defined (present in the ground truth or the prediction).
"""
import numpy as np

from .labels import IGNORE_INDEX


def _valid_pairs(pred, gt, num_classes, ignore_index):
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if pred.shape != gt.shape:
        raise ValueError(f'prediction shape {pred.shape} differs from ground truth shape {gt.shape}')
    valid = gt != ignore_index
    gt_valid = gt[valid].astype(np.int64)
    if gt_valid.size and (gt_valid.min() < 0 or gt_valid.max() >= num_classes):
        raise ValueError(f'ground-truth labels must lie in [0, {num_classes}) or be {ignore_index}, '
                         f'got range [{gt_valid.min()}, {gt_valid.max()}]')
    return valid, gt_valid


def confusion_matrix(pred, gt, num_classes, ignore_index=IGNORE_INDEX):
    """``(num_classes, num_classes)`` int64 counts, ``[gt, pred]``, one ``bincount``."""
    valid, gt_valid = _valid_pairs(pred, gt, num_classes, ignore_index)
    pred_valid = np.asarray(pred)[valid].astype(np.int64)
    if pred_valid.size and (pred_valid.min() < 0 or pred_valid.max() >= num_classes):
        raise ValueError(f'predicted labels must lie in [0, {num_classes}), got range '
                         f'[{pred_valid.min()}, {pred_valid.max()}]')
    counts = np.bincount(gt_valid * num_classes + pred_valid, minlength=num_classes ** 2)
    return counts.reshape(num_classes, num_classes)


def iou_from_confusion(confusion):
    """Per-class IoU ``TP / (TP + FP + FN)``, NaN for a class absent from gt and prediction.

    Works on one matrix ``(n, n)`` or a stack ``(..., n, n)``.
    """
    confusion = np.asarray(confusion, dtype=np.float64)
    true_positive = np.diagonal(confusion, axis1=-2, axis2=-1)
    union = confusion.sum(axis=-2) + confusion.sum(axis=-1) - true_positive
    with np.errstate(divide='ignore', invalid='ignore'):
        return true_positive / union


def mean_iou(confusion):
    """Mean of the defined per-class IoUs (``nanmean``); NaN if none is defined."""
    iou = iou_from_confusion(confusion)
    defined = ~np.isnan(iou)
    with np.errstate(divide='ignore', invalid='ignore'):
        return np.where(defined, iou, 0.0).sum(axis=-1) / defined.sum(axis=-1)


def threshold_sweep_confusions(fg_score, fg_label, gt, thresholds, num_classes,
                               ignore_index=IGNORE_INDEX):
    """Confusion matrices ``(T, n, n)`` of ``where(fg_score > thr, fg_label, 0)`` for every ``thr``.

    Equal to calling :func:`confusion_matrix` once per threshold, at the cost of
    one ``bincount``: each pixel falls into the bin ``k`` = number of thresholds
    strictly below its score (foreground for thresholds ``0..k-1``, background for
    the rest), so cumulative sums over ``k`` give every threshold's counts.

    Args:
        fg_score: ``(H, W)`` largest foreground map value per pixel (see
            :func:`advcam_mm.core.seeds.max_foreground`).
        fg_label: ``(H, W)`` class id of that value (0..n-1; 0 where no class is present).
        gt: ``(H, W)`` ground truth, ``ignore_index`` left out.
        thresholds: ``(T,)`` background thresholds in any order; compared in
            ``fg_score``'s dtype, as the reference's argmax does.
        num_classes: ``n``, including background.
    """
    fg_score = np.asarray(fg_score)
    thresholds = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    if fg_score.shape != np.shape(fg_label):
        raise ValueError(f'score shape {fg_score.shape} differs from label shape {np.shape(fg_label)}')
    valid, gt_valid = _valid_pairs(fg_label, gt, num_classes, ignore_index)
    label_valid = np.asarray(fg_label)[valid].astype(np.int64)
    if label_valid.size and (label_valid.min() < 0 or label_valid.max() >= num_classes):
        raise ValueError(f'foreground labels must lie in [0, {num_classes}), got range '
                         f'[{label_valid.min()}, {label_valid.max()}]')
    compare_dtype = fg_score.dtype if np.issubdtype(fg_score.dtype, np.floating) else np.float64
    order = np.argsort(thresholds, kind='stable')
    sorted_thresholds = thresholds[order].astype(compare_dtype)
    n_thresholds = len(thresholds)
    n_squared = num_classes * num_classes
    # bin k: thresholds sorted[:k] are < score (foreground there), sorted[k:] are >= score.
    bins = np.searchsorted(sorted_thresholds, fg_score[valid], side='left')
    histogram = np.bincount(bins * n_squared + gt_valid * num_classes + label_valid,
                            minlength=(n_thresholds + 1) * n_squared)
    histogram = histogram.reshape(n_thresholds + 1, num_classes, num_classes)
    # threshold j: foreground pixels are those with k > j, background those with k <= j.
    foreground = np.cumsum(histogram[::-1], axis=0)[::-1][1:]
    background_per_gt = np.cumsum(histogram.sum(axis=2), axis=0)[:n_thresholds]
    confusions = foreground.copy()  # a label-0 pixel lands in column 0 either way
    confusions[:, :, 0] += background_per_gt
    result = np.empty_like(confusions)
    result[order] = confusions
    return result
