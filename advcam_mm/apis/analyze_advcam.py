"""The paper's Figure 6 from one climb per setting: seed mIoU and noise at every iteration.

AdvCAM's accumulated map after t steps, ``A_t = R_0 + ... + R_{t-1}``
(:func:`~advcam_mm.core.advcam.adv_climb`), is a prefix sum of the per-step
maps, and the first t steps of a longer climb are the steps of a climb of t
(the trajectory does not depend on how far it will go). So one climb of
``steps`` steps with ``return_history=True`` gives the maps of every
iteration t = 1 ... steps; t = 1 is the CAM (R_0, the unmodified image).
Multi-scale maps follow :func:`~advcam_mm.core.advcam.advcam_maps` per t: the
maps of iteration t are exactly ``advcam_maps(..., steps=t)`` (the scale of
index 1 sums ``scale_schedule(t)`` maps and ``mul_for_scale`` is that of t),
aggregated by :func:`~advcam_mm.core.cam.aggregate_scale_maps`, and rounded to
float16 as the class-map files store them, so that t = steps reproduces
``tools/make_cams.py`` followed by ``tools/eval_seeds.py``.

Per iteration t:

* seed mIoU (Fig. 6a): best mIoU over the background-threshold sweep, as
  :func:`advcam_mm.apis.eval_seeds.evaluate_seeds` reports it;
* proportion of noise (Fig. 6b): among the pixels that are foreground at t
  but were background at t = 1 (the CAM), the fraction that is background in
  the ground truth, pixel-weighted over the images, at one background
  threshold for all t and settings (default: the CAM's best threshold; the
  t = 1 maps are the same for every setting). Foreground is class-agnostic
  (largest class map above the threshold); ignored pixels are left out.

Settings (Fig. 6a-e): the config's ``label_generation`` values are the base;
each of ``mask_coefs`` (lambda, 0 = no regularisation), ``mask_threshs`` and
``step_sizes`` varies one parameter around it. Distributed and resumable as
:mod:`.make_cams`: ranks split the images (``ids[rank::world_size]``), each
image and setting leaves one ``.npz`` of partial counts (confusion matrices
per t and threshold over the classes the image involves, noise counts),
written atomically and skipped by a rerun; rank 0 sums them into a CSV, PNG
plots and a table.
"""
import csv
import io
import json
import math
import os.path as osp
import time
from typing import Optional, Sequence

import numpy as np
import torch
from mmengine.dist import barrier, get_dist_info

from ..core.advcam import adv_climb, scale_order, scale_schedule
from ..core.cam import aggregate_scale_maps, check_cam_inputs, rescale_image
from ..core.miou import IGNORE_INDEX, iou_from_confusion, mean_iou, threshold_sweep_confusions
from ..core.seeds import max_foreground
from ..fileio.atomic import atomic_write
from ..fileio.label_png import load_label_png
from .eval_seeds import parse_thresholds
from .make_cams import normalise_image, read_rgb
from .progress import RankZeroProgress

SWEPT_PARAMETERS = ('mask_coef', 'mask_thresh', 'step_size')
PARAMETER_SYMBOLS = {'mask_coef': 'lambda', 'mask_thresh': 'tau', 'step_size': 'xi'}
PARTIALS_DIR = 'partials'
RUN_FILE = 'run.json'


# -- maps of every iteration ------------------------------------------------------------------
def prefix_schedule(num_scales: int, steps: int) -> tuple:
    """How many per-step maps each scale sums at t = 1 ... steps, as ``advcam_maps(steps=t)``.

    Returns ``(counts (steps, num_scales) int, mul_for_scale (steps,))``: every
    scale sums t maps except the scale of index 1 (with more than one scale),
    which sums ``scale_schedule(t)[0]`` and sets the factor ``mul_for_scale``.
    """
    counts = np.tile(np.arange(1, steps + 1)[:, None], (1, num_scales))
    mul_for_scale = np.ones(steps)
    if num_scales > 1:
        for t in range(1, steps + 1):
            counts[t - 1, 1], mul_for_scale[t - 1] = scale_schedule(t)
    return counts, mul_for_scale


def advcam_prefix_maps(features_fn, weight: torch.Tensor, image: torch.Tensor, class_ids,
                       scales: Sequence[float] = (1.0, 0.5, 1.5, 2.0), steps: int = 27,
                       step_size: float = 0.08, mask_thresh: float = 0.5, mask_coef: float = 7.0,
                       flip: bool = True, *, max_batch: Optional[int] = None) -> dict:
    """AdvCAM maps of one image after every iteration t = 1 ... steps, from one climb per scale.

    ``high_res[t - 1]`` equals ``advcam_maps(..., steps=t)['high_res']``
    (same scales, order, schedule and aggregation), for every t, at the cost
    of one ``advcam_maps(..., steps=steps)``.

    Returns:
        ``{'keys': (C,) int64, 'strided': (steps, C, ceil(H/4), ceil(W/4)),
        'high_res': (steps, C, H, W)}``.
    """
    weight, class_ids = check_cam_inputs(weight, image, class_ids)
    if not scales:
        raise ValueError('scales must not be empty')
    if steps < 1:
        raise ValueError(f'steps must be >= 1, got {steps}')
    counts, mul_for_scale = prefix_schedule(len(scales), steps)
    scale_maps = []
    for index in scale_order(len(scales)):
        _, history = adv_climb(features_fn, weight, rescale_image(image, scales[index]), class_ids,
                               int(counts[:, index].max()), step_size, mask_thresh, mask_coef, flip,
                               max_batch=max_batch, return_history=True)
        prefix = history['maps'].cumsum(0)  # A_n = R_0 + ... + R_{n-1}, (n, C, h, w)
        picked = prefix[torch.as_tensor(counts[:, index] - 1, device=prefix.device)]
        factor = torch.as_tensor(mul_for_scale, dtype=prefix.dtype, device=prefix.device)
        scale_maps.append((picked * factor[:, None, None, None]).flatten(0, 1))  # (steps * C, h, w)
    strided, high_res = aggregate_scale_maps(scale_maps, image.shape[-2:])
    num_classes = class_ids.numel()
    return {'keys': class_ids, 'strided': strided.reshape(steps, num_classes, *strided.shape[1:]),
            'high_res': high_res.reshape(steps, num_classes, *high_res.shape[1:])}


# -- per-image counts ---------------------------------------------------------------------------
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


# -- settings -------------------------------------------------------------------------------------
def parse_float_list(spec, what='values') -> list:
    """``'0,3.5,7'`` (or numbers) -> ``[0.0, 3.5, 7.0]``; a clear error otherwise."""
    if spec is None:
        return []
    if isinstance(spec, str):
        try:
            values = [float(v) for v in spec.split(',') if v.strip()]
        except ValueError:
            raise ValueError(f'bad {what} {spec!r}: expected a comma-separated list of numbers') from None
    else:
        values = [float(v) for v in np.asarray(spec, dtype=np.float64).reshape(-1)]
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f'bad {what} {spec!r}: values must be finite')
    return values


def sweep_settings(base: dict, mask_coefs=None, mask_threshs=None, step_sizes=None) -> list:
    """The climbing settings of Fig. 6: each list varies one parameter around ``base``.

    ``base`` holds ``mask_coef``, ``mask_thresh`` and ``step_size`` (the
    config's ``label_generation``). Returns a list of such dicts, the base
    first, duplicates merged.
    """
    base = {key: float(base[key]) for key in SWEPT_PARAMETERS}
    settings = [dict(base)]
    for key, values in zip(SWEPT_PARAMETERS, (mask_coefs, mask_threshs, step_sizes)):
        for value in parse_float_list(values, key):
            setting = dict(base, **{key: value})
            if setting not in settings:
                settings.append(setting)
    return settings


def setting_tag(setting: dict) -> str:
    """Folder name of a setting's partials, e.g. ``coef7_thresh0.5_step0.08``."""
    return (f"coef{setting['mask_coef']:g}_thresh{setting['mask_thresh']:g}"
            f"_step{setting['step_size']:g}")


def setting_label(setting: dict) -> str:
    return ', '.join(f'{PARAMETER_SYMBOLS[k]}={setting[k]:g}' for k in SWEPT_PARAMETERS)


# -- partial files ----------------------------------------------------------------------------
def partial_path(out_dir: str, setting: dict, image_id: str) -> str:
    return osp.join(out_dir, PARTIALS_DIR, setting_tag(setting), f'{image_id}.npz')


def save_partials(path: str, partials: dict) -> None:
    """Write one image's counts atomically (int32 where they fit, compressed)."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, classes=partials['classes'].astype(np.int64),
                        **{key: partials[key].astype(np.int32 if partials[key].max(initial=0) < 2 ** 31
                                                      else np.int64)
                           for key in ('confusions', 'added', 'noise')})
    with atomic_write(path) as f:
        f.write(buffer.getvalue())


def load_partials(path: str, num_steps: int, num_thresholds: int) -> dict:
    """Read one image's counts; a clear error names a missing or inconsistent file."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: partial analysis result not found (run the analysis first)')
    try:
        with np.load(path) as content:
            partials = {key: content[key].astype(np.int64) for key in ('classes', 'confusions', 'added', 'noise')}
    except Exception as error:  # noqa: BLE001 - re-raised with the file named
        raise ValueError(f'{path}: not a readable partial analysis result ({error})') from error
    m = len(partials['classes'])
    if (partials['confusions'].shape != (num_steps, num_thresholds, m, m)
            or partials['added'].shape != (num_steps, num_thresholds)
            or partials['noise'].shape != (num_steps, num_thresholds)):
        raise ValueError(f'{path}: counts of shape {partials["confusions"].shape} do not match '
                         f'{num_steps} steps and {num_thresholds} thresholds')
    return partials


def check_run_file(out_dir: str, run: dict) -> None:
    """Record what the partials depend on (``partials/run.json``); refuse to mix runs.

    Every rank writes the same content, so the race between ranks is harmless.
    """
    path = osp.join(out_dir, PARTIALS_DIR, RUN_FILE)
    run = json.loads(json.dumps(run))  # tuples -> lists, as read back
    if osp.isfile(path):
        with open(path) as f:
            recorded = json.load(f)
        if recorded != run:
            changed = sorted(k for k in set(run) | set(recorded) if run.get(k) != recorded.get(k))
            raise ValueError(f'{path}: the cached partial results were made with other settings '
                             f'({", ".join(f"{k}: {recorded.get(k)} -> {run.get(k)}" for k in changed)}); '
                             f'use another --out-dir or remove {osp.dirname(path)}')
        return
    with atomic_write(path, 'w') as f:
        json.dump(run, f, indent=2)


# -- computing -------------------------------------------------------------------------------------
def analysis_image_ids(dataset, num: Optional[int] = None) -> list:
    """Indices into ``dataset`` of the analysed images: the first ``num`` of the split (all if None)."""
    total = len(dataset)
    if num is not None:
        if num < 1:
            raise ValueError(f'--num must be >= 1, got {num}')
        total = min(total, num)
    return list(range(total))


def compute_analysis_partials(model, dataset, data_root: str, out_dir: str, settings: list, climb: dict,
                              thresholds, num_classes: int, mean, std, mask_dir: str = 'SegmentationClass',
                              num: Optional[int] = None, device='cpu', rank: Optional[int] = None,
                              world_size: Optional[int] = None, run_info: Optional[dict] = None,
                              show_progress: bool = True) -> dict:
    """Write this rank's per-image, per-setting partials; skip those already on disk.

    ``climb`` holds ``steps``, ``scales``, ``flip`` and optionally
    ``max_batch`` and ``amp`` (as ``label_generation``). Returns
    ``{'written', 'skipped', 'seconds'}`` for this rank (no barrier).
    """
    if rank is None or world_size is None:
        rank, world_size = get_dist_info()
    thresholds = parse_thresholds(thresholds)
    run = dict(run_info or {}, steps=int(climb['steps']), scales=[float(s) for s in climb['scales']],
               flip=bool(climb['flip']), amp=climb.get('amp'), thresholds=[float(t) for t in thresholds],
               num_classes=int(num_classes), mask_dir=mask_dir)
    check_run_file(out_dir, run)
    indices = analysis_image_ids(dataset, num)[rank::world_size]
    weight = model.cam_weight.detach()
    amp = climb.get('amp')
    progress = RankZeroProgress(len(indices) * len(settings), rank, enabled=show_progress,
                                title='analysis (image x setting)')
    written = skipped = 0
    start = time.perf_counter()
    for index in indices:
        info = dataset.get_data_info(index)
        image_id = info['img_id']
        paths = [partial_path(out_dir, setting, image_id) for setting in settings]
        if all(osp.exists(p) for p in paths):
            skipped += len(paths)
            for _ in paths:
                progress.update(skipped=True)
            continue
        gt_path = osp.join(data_root, mask_dir, f'{image_id}.png')
        gt = load_label_png(gt_path, 'ground-truth mask')
        rgb = read_rgb(info['img_path'])
        if rgb.shape[:2] != gt.shape:
            raise ValueError(f"{info['img_path']}: image is {rgb.shape[:2]} but ground truth {gt_path} "
                             f'is {gt.shape}')
        image = normalise_image(rgb, mean, std, device)
        class_ids = torch.as_tensor(np.flatnonzero(np.asarray(info['gt_class_labels']) > 0), device=device)
        for setting, path in zip(settings, paths):
            if osp.exists(path):
                skipped += 1
                progress.update(skipped=True)
                continue
            context = (torch.autocast(image.device.type, dtype=getattr(torch, amp)) if amp
                       else torch.autocast(image.device.type, enabled=False))
            with context:
                maps = advcam_prefix_maps(model.cam_features, weight, image, class_ids,
                                          scales=climb['scales'], steps=climb['steps'],
                                          step_size=setting['step_size'], mask_thresh=setting['mask_thresh'],
                                          mask_coef=setting['mask_coef'], flip=climb['flip'],
                                          max_batch=climb.get('max_batch'))
            # float16 as in the class-map files, so t = steps is what make_cams + eval_seeds see.
            high_res = maps['high_res'].detach().cpu().numpy().astype(np.float16).astype(np.float32)
            partials = image_partials(high_res, maps['keys'].numpy(), gt, thresholds, num_classes, gt_path)
            save_partials(path, partials)
            written += 1
            progress.update()
    progress.close()
    return {'written': written, 'skipped': skipped, 'seconds': time.perf_counter() - start}


# -- summing -----------------------------------------------------------------------------------------
def summarize_analysis(out_dir: str, image_ids: Sequence[str], settings: list, thresholds,
                       num_classes: int, steps: int, noise_threshold: Optional[float] = None) -> dict:
    """Sum the partials of ``image_ids`` into the curves of every setting.

    Returns ``{'settings', 'steps', 'thresholds', 'num_images', 'miou' (S, T),
    'best_threshold' (S, T), 'iou' (S, T, n) at the best threshold,
    'noise' (S, T) proportion (NaN where nothing was added), 'added',
    'noise_pixels' (S, T), 'noise_threshold'}``; mIoU and IoU as fractions.
    """
    thresholds = parse_thresholds(thresholds)
    num_settings, num_thresholds = len(settings), len(thresholds)
    confusions = np.zeros((num_settings, steps, num_thresholds, num_classes, num_classes), np.int64)
    added = np.zeros((num_settings, steps, num_thresholds), np.int64)
    noise = np.zeros_like(added)
    for s, setting in enumerate(settings):
        for image_id in image_ids:
            partials = load_partials(partial_path(out_dir, setting, image_id), steps, num_thresholds)
            classes = partials['classes']
            if classes.max() >= num_classes:
                raise ValueError(f'{partial_path(out_dir, setting, image_id)}: class {classes.max()} '
                                 f'outside the {num_classes} classes')
            confusions[s][:, :, classes[:, None], classes[None, :]] += partials['confusions']
            added[s] += partials['added']
            noise[s] += partials['noise']
    curves = mean_iou(confusions)  # (S, T, J)
    if np.all(np.isnan(curves)):
        raise ValueError(f'no labelled ground-truth pixel among the {len(image_ids)} analysed images')
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
            'num_images': len(image_ids), 'miou': miou, 'best_threshold': thresholds[best], 'iou': iou,
            'noise': proportion, 'added': added_at, 'noise_pixels': noise_at,
            'noise_threshold': float(thresholds[noise_index])}


def write_analysis_csv(result: dict, path: str) -> None:
    """One row per setting and iteration t (mIoU and noise in %)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator='\n')
    writer.writerow([*SWEPT_PARAMETERS, 't', 'seed_miou', 'best_threshold', 'noise_proportion',
                     'added_pixels', 'noise_pixels', 'noise_threshold', 'num_images'])
    for s, setting in enumerate(result['settings']):
        for t in range(result['steps']):
            noise = result['noise'][s, t]
            writer.writerow([*(f'{setting[k]:g}' for k in SWEPT_PARAMETERS), t + 1,
                             f"{100 * result['miou'][s, t]:.4f}", f"{result['best_threshold'][s, t]:g}",
                             '' if np.isnan(noise) else f'{100 * noise:.4f}', int(result['added'][s, t]),
                             int(result['noise_pixels'][s, t]), f"{result['noise_threshold']:g}",
                             result['num_images']])
    with atomic_write(path, 'w') as f:
        f.write(buffer.getvalue())


def read_analysis_csv(path: str) -> list:
    """The rows of :func:`write_analysis_csv` as dicts of strings."""
    with open(path, newline='') as f:
        return list(csv.DictReader(f))


def sweep_members(settings: list, base: dict, parameter: str) -> list:
    """Indices of the settings that differ from ``base`` at most in ``parameter``, by its value."""
    members = [i for i, s in enumerate(settings)
               if all(math.isclose(s[k], base[k]) for k in SWEPT_PARAMETERS if k != parameter)]
    return sorted(members, key=lambda i: settings[i][parameter])


def _save_figure(figure, path):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format='png', dpi=100)
    with atomic_write(path) as f:
        f.write(buffer.getvalue())


def plot_figure6(result: dict, out_dir: str, base: Optional[dict] = None) -> list:
    """``fig6ab.png`` (seed mIoU and noise per iteration, with and without regularisation,
    i.e. every lambda at the base tau and xi) and, where a list has several
    values, ``fig6cde.png`` (mIoU per iteration for each lambda, tau, xi). Returns the paths."""
    from matplotlib.figure import Figure
    settings = result['settings']
    base = settings[0] if base is None else base
    t = np.arange(1, result['steps'] + 1)
    paths = []

    def label(setting, parameter):
        text = f'{PARAMETER_SYMBOLS[parameter]} = {setting[parameter]:g}'
        if parameter == 'mask_coef' and setting[parameter] == 0:
            text += ' (no regularisation)'
        return text

    figure = Figure(figsize=(11, 4.2))
    miou_axis, noise_axis = figure.subplots(1, 2)
    for i in sweep_members(settings, base, 'mask_coef'):
        miou_axis.plot(t, 100 * result['miou'][i], marker='o', markersize=3, label=label(settings[i], 'mask_coef'))
        noise_axis.plot(t, 100 * result['noise'][i], marker='o', markersize=3, label=label(settings[i], 'mask_coef'))
    miou_axis.set(xlabel='adversarial iteration t (t = 1: CAM)', ylabel='seed mIoU (%)',
                  title='(a) seed mIoU (best background threshold)')
    noise_axis.set(xlabel='adversarial iteration t', ylabel='proportion of noise (%)',
                   title=f"(b) noise among pixels added since CAM (thr {result['noise_threshold']:g})")
    for axis in (miou_axis, noise_axis):
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.suptitle(f"AdvCAM per iteration, {result['num_images']} images "
                    f"({PARAMETER_SYMBOLS['mask_thresh']}={base['mask_thresh']:g}, "
                    f"{PARAMETER_SYMBOLS['step_size']}={base['step_size']:g})", fontsize=10)
    figure.tight_layout()
    paths.append(osp.join(out_dir, 'fig6ab.png'))
    _save_figure(figure, paths[-1])

    swept = [p for p in SWEPT_PARAMETERS if len(sweep_members(settings, base, p)) > 1]
    if swept:
        figure = Figure(figsize=(4.6 * len(swept), 4.2))
        axes = np.atleast_1d(figure.subplots(1, len(swept)))
        for axis, parameter, letter in zip(axes, swept, 'cde'):
            for i in sweep_members(settings, base, parameter):
                axis.plot(t, 100 * result['miou'][i], marker='o', markersize=3, label=label(settings[i], parameter))
            axis.set(xlabel='adversarial iteration t', ylabel='seed mIoU (%)',
                     title=f'({letter}) varying {PARAMETER_SYMBOLS[parameter]} ({parameter})')
            axis.grid(alpha=0.3)
            axis.legend(fontsize=8)
        figure.tight_layout()
        paths.append(osp.join(out_dir, 'fig6cde.png'))
        _save_figure(figure, paths[-1])
    return paths


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


# -- the whole analysis ------------------------------------------------------------------------------
def analyze_advcam(model, dataset, data_root: str, out_dir: str, settings: list, climb: dict, mean, std,
                   class_names: Sequence[str], thresholds='0.05:0.60:0.01', mask_dir: str = 'SegmentationClass',
                   num: Optional[int] = None, noise_threshold: Optional[float] = None, device='cpu',
                   rank: Optional[int] = None, world_size: Optional[int] = None,
                   run_info: Optional[dict] = None, show_progress: bool = True) -> Optional[dict]:
    """Compute (this rank's share, resumable), wait for all ranks, then on rank 0 write
    ``analysis.csv``, ``fig6ab.png`` (and ``fig6cde.png``) under ``out_dir`` and return the
    summary of :func:`summarize_analysis` with ``'table'``, ``'csv'``, ``'plots'`` and
    ``'compute'`` (this rank's counts) added; other ranks return None."""
    if rank is None or world_size is None:
        rank, world_size = get_dist_info()
    num_classes = len(class_names)
    compute = compute_analysis_partials(model, dataset, data_root, out_dir, settings, climb, thresholds,
                                        num_classes, mean, std, mask_dir=mask_dir, num=num, device=device,
                                        rank=rank, world_size=world_size, run_info=run_info,
                                        show_progress=show_progress)
    if world_size > 1:
        barrier()
    if rank != 0:
        return None
    image_ids = [dataset.get_data_info(i)['img_id'] for i in analysis_image_ids(dataset, num)]
    result = summarize_analysis(out_dir, image_ids, settings, thresholds, num_classes, int(climb['steps']),
                                noise_threshold)
    result['class_names'] = list(class_names)
    result['csv'] = osp.join(out_dir, 'analysis.csv')
    write_analysis_csv(result, result['csv'])
    result['plots'] = plot_figure6(result, out_dir, settings[0])
    result['table'] = format_analysis_table(result)
    result['compute'] = compute
    return result
