import numpy as np
import pytest

from advcam_mm.core.miou import (confusion_matrix, iou_from_confusion, mean_iou,
                                 threshold_sweep_confusions)
from advcam_mm.core.seeds import max_foreground, seeds_from_maps


def naive_confusion(pred, gt, num_classes, ignore_index=255):
    confusion = np.zeros((num_classes, num_classes), np.int64)
    for p, g in zip(pred.ravel(), gt.ravel()):
        if g != ignore_index:
            confusion[g, p] += 1
    return confusion


def test_confusion_with_ignore_known_answer():
    gt = np.array([[0, 0, 1],
                   [1, 255, 2]])
    pred = np.array([[0, 1, 1],
                     [2, 2, 2]])
    expected = np.array([[1, 1, 0],   # gt 0: one right, one predicted as 1
                         [0, 1, 1],   # gt 1: one right, one predicted as 2
                         [0, 0, 1]])  # gt 2: right; the ignored pixel counts nowhere
    np.testing.assert_array_equal(confusion_matrix(pred, gt, 3), expected)
    # IoU = TP / (row + column - TP): 1/2, 1/(2+2-1), 1/(1+2-1)
    np.testing.assert_allclose(iou_from_confusion(expected), [1 / 2, 1 / 3, 1 / 2])
    assert mean_iou(expected) == pytest.approx((1 / 2 + 1 / 3 + 1 / 2) / 3)


def test_miou_skips_classes_absent_from_gt_and_prediction():
    gt = np.array([[0, 3]])
    pred = np.array([[0, 3]])
    confusion = confusion_matrix(pred, gt, 5)
    iou = iou_from_confusion(confusion)
    assert np.isnan(iou[[1, 2, 4]]).all()
    assert mean_iou(confusion) == 1.0
    # a class only predicted counts (IoU 0), as in chainercv
    confusion = confusion_matrix(np.array([[0, 4]]), gt, 5)
    assert mean_iou(confusion) == pytest.approx((1 + 0 + 0) / 3)


def test_confusion_equals_loop_on_random_maps():
    rng = np.random.default_rng(0)
    gt = rng.integers(0, 6, size=(17, 23))
    gt[rng.random(gt.shape) < 0.1] = 255
    pred = rng.integers(0, 6, size=(17, 23))
    np.testing.assert_array_equal(confusion_matrix(pred, gt, 6), naive_confusion(pred, gt, 6))


def test_confusion_errors():
    with pytest.raises(ValueError, match='shape'):
        confusion_matrix(np.zeros((2, 3), int), np.zeros((3, 2), int), 3)
    with pytest.raises(ValueError, match='ground-truth labels'):
        confusion_matrix(np.zeros((1, 2), int), np.array([[0, 7]]), 3)
    with pytest.raises(ValueError, match='predicted labels'):
        confusion_matrix(np.array([[0, 7]]), np.zeros((1, 2), int), 3)


@pytest.mark.parametrize('dtype', [np.float32, np.float16])
def test_threshold_sweep_equals_per_threshold_loop(dtype):
    rng = np.random.default_rng(1)
    num_classes = 8
    keys = np.array([1, 4, 6])
    # values on a 0.01 grid, so some equal a threshold exactly (ties go to background)
    high_res = (rng.integers(0, 80, size=(3, 31, 29)) / 100).astype(dtype)
    gt = rng.integers(0, num_classes, size=(31, 29))
    gt[rng.random(gt.shape) < 0.1] = 255
    thresholds = np.round(np.arange(0.05, 0.605, 0.01), 10)
    thresholds = np.concatenate([thresholds[::-1], [0.0, 0.9]])  # any order, out-of-range ones too
    score, label = max_foreground(high_res, keys)
    sweep = threshold_sweep_confusions(score, label, gt, thresholds, num_classes)
    assert sweep.shape == (len(thresholds), num_classes, num_classes)
    for index, threshold in enumerate(thresholds):
        seeds = seeds_from_maps(high_res, keys, threshold)
        np.testing.assert_array_equal(sweep[index], naive_confusion(seeds, gt, num_classes),
                                      err_msg=f'threshold {threshold}')
    np.testing.assert_allclose(mean_iou(sweep),
                               [mean_iou(naive_confusion(seeds_from_maps(high_res, keys, t), gt,
                                                         num_classes)) for t in thresholds])


def test_threshold_sweep_without_classes_is_all_background():
    gt = np.array([[0, 2, 255]])
    score, label = max_foreground(np.zeros((0, 1, 3), np.float32), np.zeros(0, np.int64))
    sweep = threshold_sweep_confusions(score, label, gt, [0.1, 0.5], 3)
    expected = np.zeros((3, 3), np.int64)
    expected[0, 0] = expected[2, 0] = 1
    np.testing.assert_array_equal(sweep, [expected, expected])
