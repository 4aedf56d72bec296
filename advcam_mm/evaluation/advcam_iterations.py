"""The paper's Figure 6, per AdvCAM iteration t: seed mIoU and the proportion of noise.

* seed mIoU (Fig. 6a): the best mIoU over the background-threshold sweep, as
  :mod:`.seed_metric` reports it, for the maps after t iterations
  (:func:`advcam_mm.core.advcam.advcam_prefix_maps`; t = 1 is the CAM);
* proportion of noise (Fig. 6b): among the pixels that are foreground at t
  but were background at t = 1, the fraction that is background in the ground
  truth, pixel-weighted over the images, at one background threshold for all
  t and settings (default: the CAM's best threshold; the t = 1 maps are the
  same for every setting). Foreground is class-agnostic (largest class map
  above the threshold); ignored pixels are left out.

Per image, :func:`image_partials` keeps only counts (confusion matrices per t
and threshold over the classes the image involves, noise counts), so images
can be computed apart (ranks, resumed runs) and summed by :func:`iteration_curves`.
"""
from typing import Callable, Iterable, Optional

import numpy as np

from ..core.advcam import PARAMETER_SYMBOLS, SWEPT_PARAMETERS  # noqa: F401  (re-exported)
from ..core.labels import IGNORE_INDEX
from ..core.miou import iou_from_confusion, mean_iou, threshold_sweep_confusions
from ..core.seeds import max_foreground

def noise_counts(first_score, scores, gt, thresholds, ignore_index: int = IGNORE_INDEX) -> tuple:
    """Pixels added to the foreground since t = 1, and how many of them are background, per threshold.

    Args:
        first_score: ``(H, W)`` largest class-map value per pixel at t = 1.
        scores: ``(T, H, W)`` the same at t = 1 ... T.
        gt: ``(H, W)`` ground truth (0 = background, ``ignore_index`` left out).
        thresholds: ``(J,)`` background thresholds (foreground: score > threshold,
            compared in the scores' dtype as the seeds do).

    Returns:
        ``(added, noise)``, int64 ``(T, J)``: valid pixels foreground at t and
        background at t = 1; those of them whose ground truth is background.
    """
    scores = np.asarray(scores)
    first_score = np.asarray(first_score)
    gt = np.asarray(gt)
    if scores.ndim != 3 or scores.shape[1:] != gt.shape or first_score.shape != gt.shape:
        raise ValueError(f'scores {scores.shape} and first score {first_score.shape} must be (T, H, W) '
                         f'and (H, W) with the ground truth size {gt.shape}')
    thresholds = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    compare_dtype = scores.dtype if np.issubdtype(scores.dtype, np.floating) else np.float64
    order = np.argsort(thresholds, kind='stable')
    sorted_thresholds = thresholds[order].astype(compare_dtype)
    num_steps, num_thresholds = scores.shape[0], len(thresholds)
    valid = gt != ignore_index
    # k = number of thresholds strictly below the score: foreground at sorted thresholds j < k.
    k_first = np.searchsorted(sorted_thresholds, first_score[valid].astype(compare_dtype), side='left')
    k_now = np.searchsorted(sorted_thresholds, scores[:, valid], side='left')
    grew = k_now > k_first[None]  # added at sorted thresholds k_first <= j < k_now
    offsets = np.arange(num_steps)[:, None] * (num_thresholds + 1)
    size = num_steps * (num_thresholds + 1)

    def count(selected):
        start = np.bincount((offsets + k_first[None])[selected], minlength=size)
        stop = np.bincount((offsets + k_now)[selected], minlength=size)
        return np.cumsum((start - stop).reshape(num_steps, -1), axis=1)[:, :num_thresholds]

    added_sorted = count(grew)
    noise_sorted = count(grew & (gt[valid] == 0)[None])
    added = np.empty_like(added_sorted)
    noise = np.empty_like(noise_sorted)
    added[:, order] = added_sorted
    noise[:, order] = noise_sorted
    return added.astype(np.int64), noise.astype(np.int64)


def image_partials(high_res, keys, gt, thresholds, num_classes: int, name: str = 'image') -> dict:
    """One image's counts at every iteration: what the analysis caches and sums.

    Args:
        high_res: ``(T, C, H, W)`` max-normalised maps after t = 1 ... T steps.
        keys: ``(C,)`` 0-based foreground class ids.
        gt: ``(H, W)`` ground truth.
        thresholds: ``(J,)`` background thresholds.
        num_classes: number of classes including background.
        name: named in errors (e.g. the ground-truth file).

    Returns:
        ``{'classes': (m,) the class ids the image involves (0, its ground
        truth, its keys + 1), 'confusions': (T, J, m, m) seed confusion
        matrices over those classes, 'added', 'noise': (T, J)}`` (see
        :func:`noise_counts`).
    """
    high_res = np.asarray(high_res)
    keys = np.asarray(keys, dtype=np.int64).reshape(-1)
    gt = np.asarray(gt)
    if high_res.ndim != 4 or high_res.shape[1] != len(keys) or high_res.shape[2:] != gt.shape:
        raise ValueError(f'{name}: maps of shape {high_res.shape} do not match {len(keys)} keys and '
                         f'ground truth of size {gt.shape}')
    labels = np.unique(gt[gt != IGNORE_INDEX]).astype(np.int64)
    if labels.size and labels.max() >= num_classes:
        raise ValueError(f'{name}: label {labels.max()} outside the {num_classes} classes')
    if len(keys) and keys.max() + 1 >= num_classes:
        raise ValueError(f'{name}: class id {keys.max()} (0-based foreground) outside the '
                         f'{num_classes - 1} foreground classes')
    classes = np.union1d(np.union1d([0], keys + 1), labels).astype(np.int64)
    compact = np.full(256, IGNORE_INDEX, dtype=np.int64)
    compact[classes] = np.arange(len(classes))
    compact_gt = compact[gt.astype(np.int64)]
    num_steps = high_res.shape[0]
    scores = np.empty((num_steps,) + gt.shape, dtype=np.float32)
    confusions = np.empty((num_steps, len(thresholds), len(classes), len(classes)), dtype=np.int64)
    for t in range(num_steps):
        score, label = max_foreground(high_res[t], keys)
        scores[t] = score
        confusions[t] = threshold_sweep_confusions(score, compact[label.astype(np.int64)], compact_gt,
                                                   thresholds, len(classes))
    added, noise = noise_counts(scores[0], scores, gt, thresholds)
    return {'classes': classes, 'confusions': confusions, 'added': added, 'noise': noise}


def iteration_curves(partials_of: Callable[[int], Iterable[dict]], settings: list, thresholds, num_classes: int,
                     steps: int, noise_threshold: Optional[float] = None) -> dict:
    """Sum the per-image partials of every setting (``partials_of(s)`` yields those of setting ``s``,
    :func:`image_partials`) into the curves of Fig. 6.

    Returns ``{'settings', 'steps', 'thresholds', 'num_images', 'miou' (S, T),
    'best_threshold' (S, T), 'iou' (S, T, n) at the best threshold,
    'noise' (S, T) proportion (NaN where nothing was added), 'added',
    'noise_pixels' (S, T), 'noise_threshold'}``; mIoU and IoU as fractions.
    """
    thresholds = np.asarray(thresholds, dtype=np.float64)
    num_settings, num_thresholds = len(settings), len(thresholds)
    confusions = np.zeros((num_settings, steps, num_thresholds, num_classes, num_classes), np.int64)
    added = np.zeros((num_settings, steps, num_thresholds), np.int64)
    noise = np.zeros_like(added)
    num_images = 0
    for s in range(num_settings):
        for partials in partials_of(s):
            num_images += s == 0
            classes = partials['classes']
            if classes.max() >= num_classes:
                raise ValueError(f'class {classes.max()} outside the {num_classes} classes')
            confusions[s][:, :, classes[:, None], classes[None, :]] += partials['confusions']
            added[s] += partials['added']
            noise[s] += partials['noise']
    curves = mean_iou(confusions)  # (S, T, J)
    if np.all(np.isnan(curves)):
        raise ValueError(f'no labelled ground-truth pixel among the {num_images} analysed images')
    best = np.nanargmax(np.where(np.isnan(curves), -np.inf, curves), axis=2)  # (S, T), first maximum
    miou = np.take_along_axis(curves, best[..., None], axis=2)[..., 0]
    iou = iou_from_confusion(np.take_along_axis(confusions, best[..., None, None, None], axis=2)[:, :, 0])
    if noise_threshold is None:
        noise_index = int(best[0, 0])  # the CAM's (t = 1) best threshold; the same maps for every setting
    else:
        matches = np.flatnonzero(np.isclose(thresholds, float(noise_threshold)))
        if not len(matches):
            raise ValueError(f'noise threshold {noise_threshold} is not one of the thresholds '
                             f'({thresholds[0]:g} ... {thresholds[-1]:g}); add it to --thresholds')
        noise_index = int(matches[0])
    added_at = added[:, :, noise_index]
    noise_at = noise[:, :, noise_index]
    with np.errstate(divide='ignore', invalid='ignore'):
        proportion = np.where(added_at > 0, noise_at / np.maximum(added_at, 1), np.nan)
    return {'settings': [dict(s) for s in settings], 'steps': steps, 'thresholds': thresholds,
            'num_images': num_images, 'miou': miou, 'best_threshold': thresholds[best], 'iou': iou,
            'noise': proportion, 'added': added_at, 'noise_pixels': noise_at,
            'noise_threshold': float(thresholds[noise_index])}


def format_analysis_table(result: dict) -> str:
    """Per setting: mIoU at t = 1 and t = T, the best iteration, the noise at t = T."""
    steps = result['steps']
    header = (f"{'lambda':>7} {'tau':>5} {'xi':>6} | {'mIoU t=1':>8} {f'mIoU t={steps}':>9} "
              f"{'best t':>6} {'best mIoU':>9} | {f'noise t={steps}':>10}")
    lines = [f"Seed mIoU (%) per AdvCAM iteration, {result['num_images']} images; noise (%) at "
             f"threshold {result['noise_threshold']:g}", header, '-' * len(header)]
    for s, setting in enumerate(result['settings']):
        miou = result['miou'][s]
        best = int(np.nanargmax(miou))
        noise = result['noise'][s, -1]
        lines.append(f"{setting['mask_coef']:>7g} {setting['mask_thresh']:>5g} {setting['step_size']:>6g} | "
                     f'{100 * miou[0]:>8.2f} {100 * miou[-1]:>9.2f} {best + 1:>6d} {100 * miou[best]:>9.2f} | '
                     f"{'-' if np.isnan(noise) else f'{100 * noise:.2f}':>10}")
    return '\n'.join(lines)
