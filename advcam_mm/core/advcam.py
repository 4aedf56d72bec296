"""Anti-adversarial climbing (AdvCAM; Lee, Kim, Yoon, CVPR 2021, Sec. 3).

Semantics are those of the authors' ``obtain_CAM_masking.py`` (which produced
the paper's numbers); where it and the paper's text differ, the code wins:

- step size: the paper's xi = 0.008 (Eq. 2) is, in the code, 0.08 times the
  gradient divided by its maximum absolute value;
- accumulated map: Eq. 4 sums T+1 maps (x^0 ... x^T); the code sums the maps of
  x^0 ... x^{T-1} (``steps`` maps; the image after the last step is never
  looked at), and so does :func:`adv_climb`;
- the attribution that is accumulated and restricted (Eq. 5-6) is the
  Grad-CAM map of the last stage (:func:`~advcam_mm.core.cam.gradcam_scaled_attribution`),
  not the raw CAM; lambda = 7 is calibrated for its scale;
- the restricting mask M is recomputed at every step from the current map
  (``R_t / max R_t > 0.5``), not only once from the initial CAM.

A classifier enters through ``features_fn(x) -> (B, D, h, w)`` and its head
``weight (K, D)``; nothing here knows about a model class.
"""
from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F

from .cam import (FeaturesFn, aggregate_scale_maps, check_cam_inputs, class_maps,
                  gradcam_scaled_attribution, map_dtype, positive_weight_count, rescale_image)

StepCallback = Callable[[int, dict], None]


def _climb_batch(features_fn: FeaturesFn, weight: torch.Tensor, image: torch.Tensor,
                 class_ids: torch.Tensor, steps: int, step_size: float, mask_thresh: float,
                 mask_coef: float, flip: bool, record: bool,
                 step_callback: Optional[StepCallback]) -> tuple:
    """Climb all trajectories of ``class_ids`` (C classes x V views) in one batch.

    Returns ``(accumulated maps (C, h, w), history dict or None)``.
    """
    num_classes = class_ids.numel()
    views = [image, image.flip(-1)] if flip else [image]
    num_views = len(views)
    flipped_views = (False, True)[:num_views]
    x = torch.stack(views).detach().repeat(num_classes, 1, 1, 1)  # (C*V, 3, h, w), class-major
    targets = class_ids.to(weight.device)
    num_positive = positive_weight_count(weight)[targets]
    rows = torch.arange(num_classes, device=weight.device)[:, None]
    cols = torch.arange(num_views, device=weight.device)[None, :]

    accumulated = initial_map = None
    history = {'maps': [], 'scores': [], 'masks': []} if record else None
    for t in range(steps):
        climb = t < steps - 1  # the last step only contributes its map
        with torch.set_grad_enabled(climb):
            x_in = x.requires_grad_(climb)
            maps = class_maps(features_fn(x_in), weight)  # S, (C*V, K, h', w')
            maps = maps.view(num_classes, num_views, *maps.shape[1:])
            target_maps = maps[rows, cols, targets[:, None]]  # S_c of each view, (C, V, h', w')
            attribution = gradcam_scaled_attribution(target_maps, num_positive, flipped_views)  # R_t
            region = attribution.detach()
            accumulated = region.clone() if accumulated is None else accumulated + region
            if initial_map is None:
                initial_map = region  # R_0
            # Restricting mask, recomputed every step as in the reference (a max of 0 gives no mask).
            mask = region / region.amax((1, 2), keepdim=True) > mask_thresh
            scores = F.relu(maps).mean((3, 4))  # y, (C, V, K)
            if record:
                history['maps'].append(region)
                history['scores'].append(scores.detach())
                history['masks'].append(mask)
            if step_callback is not None:
                images = x.detach().view(num_classes, num_views, *x.shape[1:])
                step_callback(t, {'class_ids': class_ids, 'images': images, 'maps': region,
                                  'scores': scores.detach(), 'mask': mask})
            if not climb:
                break
            # L = sum_v (y_c - sum_{k != c} y_k) - lambda * sum M |R_t - R_0|, summed over the
            # independent trajectories, so one input-only backward serves them all.
            target_scores = scores[rows, cols, targets[:, None]]
            margin = 2 * target_scores.sum() - scores.sum()
            restriction = (mask * (attribution - initial_map).abs()).sum()
            loss = margin - mask_coef * restriction
            grad, = torch.autograd.grad(loss, x_in)
        # x <- clamp(x + step * g / max|g|, min x, max x), all per trajectory (its views, channels, pixels).
        grad = grad.reshape(num_classes, -1)
        flat = x.detach().view(num_classes, -1)
        normalised = grad / (grad.abs().amax(1, keepdim=True) + 1e-12)
        lower, upper = flat.aminmax(dim=1, keepdim=True)
        x = torch.minimum(torch.maximum(flat + step_size * normalised, lower), upper).view_as(x)
    if record:
        history = {key: torch.stack(value) for key, value in history.items()}
    return accumulated, history


def adv_climb(features_fn: FeaturesFn, weight: torch.Tensor, image: torch.Tensor, class_ids,
              steps: int = 27, step_size: float = 0.08, mask_thresh: float = 0.5,
              mask_coef: float = 7.0, flip: bool = True, *, max_batch: Optional[int] = None,
              return_history: bool = False, step_callback: Optional[StepCallback] = None):
    """Anti-adversarial climbing of one image at one scale; the accumulated map per class.

    Each class c of ``class_ids`` is one trajectory over the views
    ``[x, flip(x)]`` (``[x]`` if not ``flip``). For t = 0 ... steps-1:
    R_t is the Grad-CAM map of c (:func:`~advcam_mm.core.cam.gradcam_scaled_attribution`),
    added to the result; then (not at the last step)
    ``L = sum_v (y_c - sum_{k!=c} y_k) - mask_coef * sum M * |R_t - R_0|`` with y
    the spatial mean of ReLU(S) and ``M = 1[R_t / max R_t > mask_thresh]``, and
    ``x <- clamp(x + step_size * g / max|g|, min x, max x)``, g = dL/dx, the max,
    min and max taken over the trajectory's current views, channels, pixels.
    Paper vs. code (the code wins): see the module docstring.

    All classes x views climb in one batch of independent trajectories (the
    result equals climbing each class alone for a per-sample ``features_fn``,
    e.g. BatchNorm in eval mode): one forward and one input-only backward per
    step (``torch.autograd.grad``: no parameter ``.grad`` is written, whatever
    their ``requires_grad``; freezing them saves memory), no backward at the
    last step. Works under ``torch.no_grad`` callers, in float32/float64 and
    under ``torch.autocast``.

    Args:
        features_fn: ``x (B, 3, h, w) -> F (B, D, h', w')``.
        weight: (K, D) bias-free 1x1 classification head.
        image: (3, h, w) normalised image.
        class_ids: the classes to climb (0-based into ``weight``).
        steps: number of maps accumulated (the reference's ``adv_iter``).
        step_size: step on the max-normalised gradient (``AD_stepsize``).
        mask_thresh: restricting-mask threshold on R_t / max R_t (``score_th``).
        mask_coef: restriction coefficient lambda (``AD_coeff``).
        flip: climb [x, flip(x)] as the reference does.
        max_batch: memory cap on the batch size: classes are climbed in
            chunks of ``max(1, max_batch // views)`` classes (same result).
        return_history: also return ``{'maps': (steps, C, h', w') R_t,
            'scores': (steps, C, V, K) y, 'masks': (steps, C, h', w') M}``.
        step_callback: called as ``step_callback(t, state)`` at every step
            (per chunk), with ``state`` holding ``'class_ids'``, ``'images'``
            (the chunk's current x, (C, V, 3, h, w), before the step's update),
            ``'maps'``, ``'scores'`` and ``'mask'`` (e.g. for an animation).

    Returns:
        (C, h', w') accumulated map, not multiplied by the reference's
        ``mul_for_scale`` (:func:`advcam_maps` applies it); with
        ``return_history`` a tuple ``(maps, history)``.
    """
    weight, class_ids = check_cam_inputs(weight, image, class_ids)
    if steps < 1:
        raise ValueError(f'steps must be >= 1, got {steps}')
    num_views = 2 if flip else 1
    if class_ids.numel() == 0:
        with torch.no_grad():
            shape = features_fn(image[None]).shape[-2:]
        empty = image.new_zeros(0, *shape, dtype=map_dtype(image, weight))
        if not return_history:
            return empty
        return empty, {'maps': empty[None].repeat(steps, 1, 1, 1),
                       'scores': empty.new_zeros(steps, 0, num_views, weight.shape[0]),
                       'masks': empty[None].repeat(steps, 1, 1, 1).bool()}
    chunk = class_ids.numel() if max_batch is None else max(1, int(max_batch) // num_views)
    results, histories = [], []
    for start in range(0, class_ids.numel(), chunk):
        maps, history = _climb_batch(features_fn, weight, image, class_ids[start:start + chunk], steps,
                                     step_size, mask_thresh, mask_coef, flip, return_history, step_callback)
        results.append(maps)
        histories.append(history)
    maps = torch.cat(results) if len(results) > 1 else results[0]
    if not return_history:
        return maps
    history = {key: torch.cat([h[key] for h in histories], 1) for key in histories[0]}
    return maps, history


def scale_schedule(steps: int) -> tuple:
    """The reference's (steps, mul_for_scale) at the scale of index 1 (0.5).

    More than 10 steps: half the steps, factor 2; 6 to 10: 5 steps, factor 1;
    fewer than 6: all steps, factor 1.
    """
    if steps > 10:
        return steps // 2, 2.0
    if steps >= 6:
        return 5, 1.0
    return steps, 1.0


def scale_order(num_scales: int) -> list:
    """The reference's order of the scale indices: 1, 0, 2, 3, ... (just 0 with one scale)."""
    return [1, 0, *range(2, num_scales)] if num_scales > 1 else [0]


def advcam_maps(features_fn: FeaturesFn, weight: torch.Tensor, image: torch.Tensor, class_ids,
                scales: Sequence[float] = (1.0, 0.5, 1.5, 2.0), steps: int = 27, step_size: float = 0.08,
                mask_thresh: float = 0.5, mask_coef: float = 7.0, flip: bool = True, *,
                max_batch: Optional[int] = None) -> dict:
    """Multi-scale AdvCAM maps of one image, as ``obtain_CAM_masking.py`` makes them.

    Each scale rescales ``image (3, H, W)`` (see
    :func:`~advcam_mm.core.cam.rescale_image`: bilinear on the normalised
    tensor here, PIL bicubic on the uint8 image in the reference) and climbs
    with :func:`adv_climb`. The reference's schedule: scales run in its order
    (index 1, then 0, 2, 3, ...; with one scale, just it); the scale of index 1
    (0.5 by default) climbs :func:`scale_schedule` (steps) steps, and the
    factor it sets, ``mul_for_scale``, multiplies the maps of every scale (it
    persists across scales in the reference; 1 with a single scale; the final
    normalisation cancels it but for the +1e-5). The maps are aggregated as IRN
    does (:func:`~advcam_mm.core.cam.aggregate_scale_maps`). ``steps=1`` gives
    the maps without climbing: IRN's multi-scale CAM up to the per-view factor
    n_v / (P_c sum n). ``max_batch`` caps the climbing batch as in
    :func:`adv_climb`.

    Returns:
        ``{'keys': class_ids (C,) int64, 'strided': (C, ceil(H/4), ceil(W/4)),
        'high_res': (C, H, W)}``.
    """
    weight, class_ids = check_cam_inputs(weight, image, class_ids)
    if not scales:
        raise ValueError('scales must not be empty')
    mul_for_scale = 1.0
    scale_maps = []
    for index in scale_order(len(scales)):
        num_steps = steps
        if index == 1:
            num_steps, mul_for_scale = scale_schedule(steps)
        maps = adv_climb(features_fn, weight, rescale_image(image, scales[index]), class_ids, num_steps,
                         step_size, mask_thresh, mask_coef, flip, max_batch=max_batch)
        scale_maps.append(maps)
    strided, high_res = aggregate_scale_maps([m * mul_for_scale for m in scale_maps], image.shape[-2:])
    return {'keys': class_ids, 'strided': strided, 'high_res': high_res}
