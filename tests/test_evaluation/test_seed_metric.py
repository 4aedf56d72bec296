"""Seed mIoU over a threshold sweep: the sweep equals per-threshold seeds, a known answer, SeedMetric in an Evaluator."""
import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator

import advcam_mm  # noqa: F401  (registers SeedMetric)
from advcam_mm.core.miou import confusion_matrix
from advcam_mm.core.seeds import seeds_from_maps
from advcam_mm.evaluation.seed_metric import (check_class_ids, crf_result, parse_thresholds, seed_sweep_confusions,
                                              seed_sweep_result)
from helpers.hand_made_voc import CLASSES, upscale

# image a: 'cat' (class 1, key 0) in columns 0-1; the map reaches 0.3 in column 2
GT_A = np.array([[1, 1, 0, 0]] * 3 + [[1, 1, 0, 255]])
MAP_A = np.array([[0.8, 0.8, 0.3, 0.1]] * 4)
# image b: 'dog' (class 2, key 1) in rows 0-1; the map is only 0.4 on row 1
GT_B = np.array([[2] * 4, [2] * 4, [0] * 4, [0] * 4])
MAP_B = np.array([[0.9] * 4, [0.4] * 4, [0.0] * 4, [0.0] * 4])
# By hand (per 4x4 layout; the ignored pixel is left out):
# threshold 0.2: a predicts cat on columns 0-2 (4 background pixels wrong), b is right.
#   background TP 3 + 8 = 11, FN 4 -> 11/15; cat TP 8, FP 4 -> 8/12; dog 8/8.
MIOU_02 = (11 / 15 + 8 / 12 + 1) / 3  # = 0.8
# threshold 0.5: a is right, b misses dog row 1 (4 pixels).
#   background TP 7 + 8 = 15, FP 4 -> 15/19; cat 1; dog TP 4, FN 4 -> 4/8.
MIOU_05 = (15 / 19 + 1 + 4 / 8) / 3
CELL = 4  # the layouts upscaled by 4: every count x16, every IoU the same
IMAGES = {'a': (GT_A, [0], MAP_A), 'b': (GT_B, [1], MAP_B)}


def test_parse_thresholds():
    values = parse_thresholds('0.05:0.60:0.01')
    assert len(values) == 56 and values[0] == 0.05 and values[-1] == 0.6 and values[11] == 0.16
    np.testing.assert_array_equal(parse_thresholds('0.1, 0.3'), [0.1, 0.3])
    np.testing.assert_array_equal(parse_thresholds('0.25'), [0.25])
    np.testing.assert_array_equal(parse_thresholds([0.2, 0.4]), [0.2, 0.4])
    for bad in ('0.1:0.2', 'a:b:c', '0.5:0.1:0.1', '0.1:0.2:0', '', 'x'):
        with pytest.raises(ValueError, match='bad threshold spec'):
            parse_thresholds(bad)


def test_sweep_equals_seeds_at_each_threshold():
    rng = np.random.default_rng(0)
    maps = rng.random((2, 12, 10)).astype(np.float32)
    gt = rng.integers(0, 4, (12, 10))
    gt[0, :3] = 255
    thresholds = parse_thresholds('0.05:0.95:0.05')
    sweep = seed_sweep_confusions(maps, [0, 2], gt, thresholds, 4)
    for j, threshold in enumerate(thresholds):
        np.testing.assert_array_equal(sweep[j], confusion_matrix(seeds_from_maps(maps, [0, 2], threshold), gt, 4))


def test_known_answer():
    total = sum(seed_sweep_confusions(upscale(maps, CELL)[None], keys, upscale(gt, CELL), [0.2, 0.5], 3)
                for gt, keys, maps in IMAGES.values())
    result = seed_sweep_result(total, [0.2, 0.5], CLASSES)
    assert result['best_threshold'] == 0.2 and result['miou'] == pytest.approx(MIOU_02) == pytest.approx(0.8)
    np.testing.assert_allclose(result['iou'], [11 / 15, 8 / 12, 1])
    np.testing.assert_allclose(result['miou_curve'], [MIOU_02, MIOU_05])
    assert result['class_names'] == list(CLASSES) and result['thresholds'] == [0.2, 0.5]
    refined = crf_result(total[1], 0.5)
    assert refined['crf_threshold'] == 0.5 and refined['crf_miou'] == pytest.approx(MIOU_05)
    with pytest.raises(ValueError, match='no labelled ground-truth pixel'):
        seed_sweep_result(np.zeros((1, 3, 3), np.int64), [0.2], CLASSES)


def test_class_ids_outside_the_dataset_are_named():
    with pytest.raises(ValueError, match='gt.png: label 7 outside the 3 classes'):
        check_class_ids(np.array([0]), np.array([[7, 255]]), 3, 'a.npy', 'gt.png')
    with pytest.raises(ValueError, match=r'a.npy: class id 5 \(0-based foreground\) outside the 2 foreground'):
        check_class_ids(np.array([5]), np.array([[1, 255]]), 3, 'a.npy', 'gt.png')


def samples(images=IMAGES):
    return [dict(pred_class_maps=dict(keys=torch.tensor(keys), high_res=torch.from_numpy(upscale(maps, CELL)[None])),
                 gt_sem_seg=dict(data=torch.from_numpy(upscale(gt, CELL))[None]), img_path=f'{name}.jpg')
            for name, (gt, keys, maps) in images.items()]


def test_seed_metric_in_a_real_evaluator(mmseg_scope):
    evaluator = Evaluator(dict(type='SeedMetric', thresholds='0.2,0.5'))
    evaluator.dataset_meta = dict(classes=CLASSES)
    for sample in samples():
        evaluator.process([sample])
    metrics = evaluator.evaluate(2)
    assert metrics == {'seed/mIoU': pytest.approx(100 * MIOU_02), 'seed/threshold': 0.2}
    # num_classes instead of the metainfo; a label outside the classes is named
    evaluator = Evaluator(dict(type='SeedMetric', thresholds='0.2,0.5', num_classes=2))
    with pytest.raises(ValueError, match='b.jpg: label 2 outside the 2 classes'):
        evaluator.process(samples())
