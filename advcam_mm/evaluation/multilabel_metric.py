"""Multi-label classification metric (mAP, F1) for the CAM classifier's validation."""
from typing import Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmseg.registry import METRICS


def average_precision(scores: np.ndarray, targets: np.ndarray) -> float:
    """Non-interpolated AP of one class (area under the precision-recall steps).

    ``scores`` and ``targets`` are ``(N,)``; returns NaN when no sample is positive.
    """
    positives = targets.sum()
    if positives == 0:
        return float('nan')
    order = np.argsort(-scores, kind='stable')
    hits = targets[order] > 0
    precision_at_hit = np.cumsum(hits)[hits] / (np.flatnonzero(hits) + 1)
    return float(precision_at_hit.sum() / positives)


def multilabel_scores(scores: np.ndarray, targets: np.ndarray, threshold: float = 0.5) -> dict:
    """mAP over classes with a positive, and macro/micro F1 at ``threshold``."""
    aps = np.array([average_precision(scores[:, k], targets[:, k]) for k in range(scores.shape[1])])
    predicted = scores >= threshold
    actual = targets > 0
    tp = (predicted & actual).sum(0).astype(np.float64)
    fp = (predicted & ~actual).sum(0)
    fn = (~predicted & actual).sum(0)
    with np.errstate(invalid='ignore', divide='ignore'):
        per_class_f1 = 2 * tp / (2 * tp + fp + fn)
    micro_f1 = 2 * tp.sum() / max(2 * tp.sum() + fp.sum() + fn.sum(), 1)
    return {'mAP': float(np.nanmean(aps)) * 100, 'F1': float(np.nanmean(per_class_f1)) * 100,
            'micro_F1': float(micro_f1) * 100}


@METRICS.register_module()
class MultiLabelMetric(BaseMetric):
    """mAP and F1 of ``pred_class_scores`` (sigmoid) against ``gt_class_labels``."""

    default_prefix = 'cls'

    def __init__(self, threshold: float = 0.5, **kwargs):
        super().__init__(**kwargs)
        self.threshold = threshold

    def process(self, data_batch, data_samples: Sequence) -> None:
        for sample in data_samples:
            score = sample['pred_class_scores'] if isinstance(sample, dict) else sample.pred_class_scores
            target = sample['gt_class_labels'] if isinstance(sample, dict) else sample.gt_class_labels
            self.results.append((np.asarray(score.float().cpu()), np.asarray(target.float().cpu())))

    def compute_metrics(self, results: list) -> dict:
        scores = np.stack([r[0] for r in results])
        targets = np.stack([r[1] for r in results])
        return multilabel_scores(scores, targets, self.threshold)
