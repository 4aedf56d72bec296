"""Multi-label classification metric: AP and F1 by hand, and through a real MMEngine Evaluator."""
import math

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator

import advcam_mm  # noqa: F401  (registers MultiLabelMetric)
from advcam_mm.evaluation.multilabel_metric import average_precision, multilabel_scores


def test_average_precision_known_answers():
    # ranked: + - + - +  -> precision at the hits 1/1, 2/3, 3/5
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    assert average_precision(scores, np.array([1, 0, 1, 0, 1])) == pytest.approx((1 + 2 / 3 + 3 / 5) / 3)
    # the same samples in another order give the same AP (it is a ranking measure)
    order = np.array([3, 0, 4, 1, 2])
    assert average_precision(scores[order], np.array([1, 0, 1, 0, 1])[order]) == pytest.approx(34 / 45)
    # perfect ranking: 1; the positive ranked last of four: 1/4; every sample positive: 1
    assert average_precision(np.array([0.2, 0.9, 0.1]), np.array([0, 1, 0])) == 1.0
    assert average_precision(np.array([0.1, 0.9, 0.8, 0.7]), np.array([1, 0, 0, 0])) == 0.25
    assert average_precision(np.array([0.3, 0.1]), np.array([1, 1])) == 1.0
    # ties keep the samples' order (a stable sort): the positive second of two equal scores
    assert average_precision(np.array([0.5, 0.5]), np.array([0, 1])) == 0.5
    assert math.isnan(average_precision(np.array([0.5, 0.4]), np.array([0, 0])))


def test_multilabel_scores_by_hand():
    scores = np.array([[0.9, 0.2, 0.6],
                       [0.4, 0.8, 0.1],
                       [0.7, 0.3, 0.2]])
    targets = np.array([[1, 0, 0],
                        [0, 1, 0],
                        [1, 1, 0]])
    result = multilabel_scores(scores, targets, threshold=0.5)
    # AP: class 0 ranks 0.9(+) 0.7(+) 0.4(-) -> 1; class 1 ranks 0.8(+) 0.3(+) 0.2(-) -> 1; class 2 no positive
    assert result['mAP'] == pytest.approx(100.0)
    # at 0.5: class 0 TP 2; class 1 TP 1, FN 1 -> F1 2/3; class 2 FP 1 -> F1 0
    assert result['F1'] == pytest.approx(100 * (1 + 2 / 3 + 0) / 3)
    assert result['micro_F1'] == pytest.approx(100 * 2 * 3 / (2 * 3 + 1 + 1))


def test_metric_in_a_real_evaluator(mmseg_scope):
    evaluator = Evaluator(dict(type='MultiLabelMetric', threshold=0.5))
    samples = [dict(pred_class_scores=torch.tensor([0.9, 0.2]), gt_class_labels=torch.tensor([1.0, 0.0])),
               dict(pred_class_scores=torch.tensor([0.6, 0.7]), gt_class_labels=torch.tensor([0.0, 1.0])),
               dict(pred_class_scores=torch.tensor([0.3, 0.1]), gt_class_labels=torch.tensor([1.0, 0.0]))]
    evaluator.process(samples[:2])
    evaluator.process(samples[2:])
    metrics = evaluator.evaluate(3)
    # class 0: 0.9(+) 0.6(-) 0.3(+) -> (1 + 2/3) / 2; class 1: 0.7(+) first -> 1
    assert metrics['cls/mAP'] == pytest.approx(100 * ((1 + 2 / 3) / 2 + 1) / 2)
    # class 0: TP 1, FP 1, FN 1 -> 1/2; class 1: TP 1 -> 1
    assert metrics['cls/F1'] == pytest.approx(100 * (0.5 + 1) / 2)
