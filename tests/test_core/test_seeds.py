import numpy as np
import pytest

from advcam_mm.core.miou import confusion_matrix, iou_from_confusion, mean_iou
from advcam_mm.core.seeds import max_foreground, seed_with_crf, seeds_from_maps


def test_seeds_argmax_over_background_threshold_and_keys_lookup():
    keys = np.array([2, 14])  # 0-based foreground ids -> dataset ids 3 and 15
    high_res = np.array([[[0.9, 0.2, 0.5, 0.6]],
                         [[0.1, 0.3, 0.5, 0.6]]], np.float32)
    seeds = seeds_from_maps(high_res, keys, bg_threshold=0.25)
    # pixel 0: class 3; pixel 1: 0.3 > 0.25 -> class 15; pixels 2, 3: tie between classes -> first
    np.testing.assert_array_equal(seeds, [[3, 15, 3, 3]])
    assert seeds.dtype == np.uint8
    # a map value equal to the threshold loses to background (argmax takes the first index)
    np.testing.assert_array_equal(seeds_from_maps(high_res, keys, np.float32(0.5)), [[3, 0, 0, 3]])
    np.testing.assert_array_equal(seeds_from_maps(high_res, keys, 0.95), [[0, 0, 0, 0]])


def test_seeds_without_present_classes_are_background():
    seeds = seeds_from_maps(np.zeros((0, 2, 3), np.float32), np.zeros(0, np.int64), 0.1)
    np.testing.assert_array_equal(seeds, np.zeros((2, 3)))


def test_seed_miou_on_hand_made_masks():
    # one foreground class (dataset id 1), map falling off to the right
    high_res = np.array([[[0.9, 0.7, 0.4, 0.1],
                          [0.8, 0.6, 0.3, 0.0],
                          [0.2, 0.2, 0.1, 0.0]]], np.float32)
    gt = np.array([[1, 1, 1, 0],
                   [1, 1, 0, 0],
                   [0, 0, 0, 255]])
    seeds = seeds_from_maps(high_res, np.array([0]), bg_threshold=0.5)
    np.testing.assert_array_equal(seeds, [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0]])
    # class 1: TP 4, FN 1 (pixel (0, 2)), FP 0 -> 4/5
    # background: TP 6 (the ignored pixel left out), FP 1, FN 0 -> 6/7
    confusion = confusion_matrix(seeds, gt, 2)
    np.testing.assert_allclose(iou_from_confusion(confusion), [6 / 7, 4 / 5])
    assert mean_iou(confusion) == pytest.approx((6 / 7 + 4 / 5) / 2)


def test_max_foreground_matches_seeds():
    rng = np.random.default_rng(0)
    high_res = rng.random((4, 9, 11)).astype(np.float32)
    keys = np.array([0, 3, 7, 19])
    score, label = max_foreground(high_res, keys)
    np.testing.assert_array_equal(score, high_res.max(0))
    for threshold in (0.2, 0.6, 0.9):
        np.testing.assert_array_equal(np.where(score > np.float32(threshold), label, 0),
                                      seeds_from_maps(high_res, keys, threshold))


def test_seed_shape_errors():
    with pytest.raises(ValueError, match='len\\(keys\\)'):
        seeds_from_maps(np.zeros((2, 3, 3), np.float32), np.array([1]), 0.2)
    with pytest.raises(ValueError, match='keys'):
        seeds_from_maps(np.zeros((1, 3, 3), np.float32), np.array([300]), 0.2)


def test_seed_with_crf_follows_colour_edge_and_maps_through_keys():
    height, width, edge = 32, 48, 24
    image = np.zeros((height, width, 3), np.uint8)
    image[:, :edge] = (40, 60, 50)
    image[:, edge:] = (220, 190, 170)
    # a map whose object boundary sits 6 columns left of the colour edge
    column = np.arange(width)
    high_res = np.broadcast_to(np.clip((column - edge + 12) / 12, 0, 1), (height, width))
    high_res = high_res[None].astype(np.float32)
    threshold = 0.5  # seed boundary at column edge - 6
    seeds = seeds_from_maps(high_res, np.array([5]), threshold)
    refined = seed_with_crf(image, high_res, np.array([5]), threshold)
    assert set(np.unique(refined)) <= {0, 6}
    truth = np.where(column >= edge, 6, 0)[None].repeat(height, 0)
    assert (seeds == truth).mean() < 0.9
    assert (refined == truth).mean() > 0.98
