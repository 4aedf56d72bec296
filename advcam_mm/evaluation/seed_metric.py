"""Seed mIoU: the paper's "Seed" and "+CRF" columns, over a sweep of background thresholds.

The seed of an image at background threshold ``thr`` is ``argmax([thr, maps])``
over its max-normalised class maps (:mod:`advcam_mm.core.seeds`). The paper
reports the best mIoU over a sweep of thresholds (IRN / AdvCAM
``step/eval_cam.py``, one threshold per run there; here the whole sweep in
one pass: :func:`advcam_mm.core.miou.threshold_sweep_confusions`), and "+CRF"
refines the seeds with IRN's dense CRF at the best threshold (expensive, so
only there). Confusion matrices are summed over the images (chainercv's
convention: ignored ground-truth pixels are left out).

:class:`SeedMetric` does the same inside an MMEngine evaluator, for data
samples that carry ``pred_class_maps`` (``keys``, ``high_res``) and
``gt_sem_seg``; the seed-evaluation stage (:mod:`advcam_mm.stages.seed_evaluation`)
does it over a folder of class-map files in worker processes.
"""
from typing import Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmseg.registry import METRICS

from ..core.labels import IGNORE_INDEX
from ..core.miou import confusion_matrix, iou_from_confusion, mean_iou, threshold_sweep_confusions
from ..core.seeds import max_foreground, seed_with_crf

#: The sweep of background thresholds: 0.05, 0.06, ..., 0.60 (start:stop:step, stop included).
SEED_THRESHOLDS = '0.05:0.60:0.01'


def parse_thresholds(spec=SEED_THRESHOLDS) -> np.ndarray:
    """Thresholds from ``'start:stop:step'`` (stop included), ``'a,b,c'``, ``'a'`` or numbers.

    ``'0.05:0.60:0.01'`` gives the 56 values 0.05, 0.06, ..., 0.60 (rounded to
    10 decimals, so they print as written).
    """
    if isinstance(spec, str):
        text = spec.strip()
        try:
            if ':' in text:
                parts = [float(p) for p in text.split(':')]
                if len(parts) != 3:
                    raise ValueError
                start, stop, step = parts
                if step <= 0 or stop < start:
                    raise ValueError(f'threshold range {spec!r} needs step > 0 and stop >= start')
                values = np.arange(start, stop + step / 2, step)
            else:
                values = np.array([float(p) for p in text.split(',') if p.strip()])
        except ValueError as error:
            detail = f' ({error})' if str(error) else ''
            raise ValueError(f'bad threshold spec {spec!r}: expected "start:stop:step", '
                             f'"a,b,c" or a number{detail}') from None
    else:
        values = np.asarray(spec, dtype=np.float64).reshape(-1)
    if values.size == 0 or not np.all(np.isfinite(values)):
        raise ValueError(f'bad threshold spec {spec!r}: no thresholds or non-finite values')
    return np.round(values.astype(np.float64), 10)


def check_class_ids(keys, gt, num_classes: int, maps_name: str, gt_name: str) -> None:
    """Refuse ground truth or map keys outside the ``num_classes`` classes, naming the file."""
    valid = gt[gt != IGNORE_INDEX]
    if valid.size and int(valid.max()) >= num_classes:
        raise ValueError(f'{gt_name}: label {int(valid.max())} outside the {num_classes} classes')
    if len(keys) and int(np.max(keys)) + 1 >= num_classes:
        raise ValueError(f'{maps_name}: class id {int(np.max(keys))} (0-based foreground) outside the '
                         f'{num_classes - 1} foreground classes')


def seed_sweep_confusions(high_res, keys, gt, thresholds, num_classes: int) -> np.ndarray:
    """``(T, n, n)`` confusion matrices of one image's seeds at every threshold."""
    fg_score, fg_label = max_foreground(high_res, keys)
    return threshold_sweep_confusions(fg_score, fg_label, gt, thresholds, num_classes)


def crf_seed_confusion(image_rgb, high_res, keys, gt, threshold: float, num_classes: int, **crf) -> np.ndarray:
    """``(n, n)`` confusion matrix of one image's seeds refined by IRN's dense CRF (``crf``: its settings)."""
    return confusion_matrix(seed_with_crf(image_rgb, high_res, keys, threshold, **crf), gt, num_classes)


def seed_sweep_result(total: np.ndarray, thresholds, class_names: Sequence[str]) -> dict:
    """The sweep's summary from summed ``(T, n, n)`` confusions.

    Returns ``best_threshold``, ``miou`` and ``iou`` (per class) there, ``thresholds``,
    ``miou_curve`` and ``class_names``; fractions, NaN for a class absent from both
    ground truth and seeds.
    """
    curve = mean_iou(total)
    if np.all(np.isnan(curve)):
        raise ValueError('no labelled ground-truth pixel among the evaluated images')
    best = int(np.nanargmax(curve))
    return {'best_threshold': float(thresholds[best]), 'miou': float(curve[best]),
            'iou': [float(v) for v in iou_from_confusion(total[best])], 'class_names': list(class_names),
            'thresholds': [float(t) for t in thresholds], 'miou_curve': [float(v) for v in curve]}


def crf_result(total: np.ndarray, threshold: float) -> dict:
    return {'crf_threshold': float(threshold), 'crf_miou': float(mean_iou(total)),
            'crf_iou': [float(v) for v in iou_from_confusion(total)]}


@METRICS.register_module()
class SeedMetric(BaseMetric):
    """Seed mIoU over a threshold sweep, for data samples with ``pred_class_maps`` and ``gt_sem_seg``.

    ``pred_class_maps`` is a dict with ``keys`` ((C,) 0-based foreground ids) and
    ``high_res`` ((C, H, W) max-normalised maps at the ground truth's size).
    Reports ``seed_mIoU`` (%, at the best threshold) and ``seed_threshold``.

    Args:
        thresholds: the sweep (:func:`parse_thresholds`); default the paper's.
        num_classes: classes with background; default the dataset's (``dataset_meta``).
    """

    default_prefix = 'seed'

    def __init__(self, thresholds=SEED_THRESHOLDS, num_classes: Optional[int] = None, **kwargs):
        super().__init__(**kwargs)
        self.thresholds = parse_thresholds(thresholds)
        self.num_classes = num_classes

    def _classes(self):
        if self.num_classes is not None:
            return self.num_classes
        if not self.dataset_meta or 'classes' not in self.dataset_meta:
            raise ValueError('SeedMetric needs num_classes or the dataset metainfo (classes)')
        return len(self.dataset_meta['classes'])

    def process(self, data_batch, data_samples: Sequence) -> None:
        num_classes = self._classes()
        for sample in data_samples:
            maps = sample['pred_class_maps']
            gt = sample['gt_sem_seg']['data']
            gt = np.asarray(gt.cpu() if hasattr(gt, 'cpu') else gt).reshape(gt.shape[-2:])
            high_res = np.asarray(maps['high_res'].cpu() if hasattr(maps['high_res'], 'cpu') else maps['high_res'])
            keys = np.asarray(maps['keys'].cpu() if hasattr(maps['keys'], 'cpu') else maps['keys'])
            name = sample.get('img_path', 'sample')
            check_class_ids(keys, gt, num_classes, name, name)
            self.results.append(seed_sweep_confusions(high_res, keys, gt, self.thresholds, num_classes))

    def compute_metrics(self, results: list) -> dict:
        names = (self.dataset_meta or {}).get('classes') or [str(i) for i in range(self._classes())]
        summary = seed_sweep_result(np.sum(results, axis=0), self.thresholds, names)
        return {'mIoU': 100 * summary['miou'], 'threshold': summary['best_threshold']}
