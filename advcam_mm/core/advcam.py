"""Anti-adversarial climbing (AdvCAM; Lee, Kim, Yoon, CVPR 2021, Sec. 3), batched over images.

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

One engine serves every caller. A *trajectory* is one (image, class) pair
climbing over its views ``[x, flip(x)]``; trajectories are independent (own
step normalisation, clamp range, restricting mask and R_0), so any set of them
at one image size can share a batch: :func:`advcam_maps_batch` climbs all
classes x views x images of a size and scale together (one forward and one
input-only backward per step), split into chunks only by a memory cap
(:func:`climb_chunks`); :func:`advcam_maps_stream` feeds it from a stream of
samples (a ``DataLoader``), grouping equal sizes with a bounded look-ahead
(:mod:`.size_groups`). :func:`adv_climb` (one image, one scale),
:func:`advcam_maps` (one image) and the prefix maps of the Fig. 6 analysis
(:func:`advcam_prefix_maps_batch`) are special cases of it. For a per-sample
``features_fn`` (BatchNorm in eval mode) the result does not depend on how
trajectories are batched (equal in float64; in float32/bf16 up to the
rounding differences of other batch shapes).

A climbing step makes no host-device synchronisation: no ``.item()``, no
Python branch on tensor values, the clamp range and max |g| stay tensors;
only a ``step_callback`` or the caller's use of the results may synchronise.
"""
import contextlib
import functools
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F

from .cam import (FeaturesFn, aggregate_scale_maps, check_cam_inputs, class_maps,
                  gradcam_scaled_attribution, head_weight, map_dtype, positive_weight_count,
                  rescale_image)
from .size_groups import group_by_size

StepCallback = Callable[[int, dict], None]
AMP_DTYPES = {'bfloat16': torch.bfloat16, 'float16': torch.float16}


@dataclass(frozen=True)
class _ClimbSettings:
    """The climb (algorithm: step, mask, lambda, flip) and how it runs (batch cap, precision, graphs)."""
    step_size: float = 0.08
    mask_thresh: float = 0.5
    mask_coef: float = 7.0
    flip: bool = True
    max_batch: Optional[int] = None
    max_batch_pixels: Optional[int] = None
    amp: Optional[str] = None
    channels_last: bool = False
    compile: Union[None, bool, dict] = None

    def __post_init__(self):
        if self.amp is not None and self.amp not in AMP_DTYPES:
            raise ValueError(f'amp must be None or one of {sorted(AMP_DTYPES)}, got {self.amp!r}')
        if not (self.compile is None or isinstance(self.compile, (bool, dict))):
            raise ValueError(f'compile must be None, a bool or a dict of torch.compile options, '
                             f'got {self.compile!r}')

    @property
    def flipped_views(self) -> tuple:
        return (False, True) if self.flip else (False, )

    def autocast(self, device: torch.device):
        """``torch.autocast`` for ``amp``; without ``amp`` the caller's context stays in force."""
        if self.amp is None:
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=AMP_DTYPES[self.amp])


def climb_chunks(num_trajectories: int, num_views: int, image_size: Sequence[int],
                 max_batch: Optional[int] = None, max_batch_pixels: Optional[int] = None) -> List[tuple]:
    """``(start, stop)`` of the chunks of trajectories that climb as one batch.

    A batch holds at most ``max_batch`` views and ``max_batch_pixels`` view
    pixels (views x height x width at the scale climbed; memory grows with
    it: about 2 kB per view pixel for ResNet-50 in fp32, see the benchmark),
    but always at least one trajectory. Chunks are filled in order, all but
    the last full, so that most batches share one shape.
    """
    per_chunk = num_trajectories
    if max_batch is not None:
        per_chunk = min(per_chunk, int(max_batch) // num_views)
    if max_batch_pixels is not None:
        per_chunk = min(per_chunk, int(max_batch_pixels) // (num_views * image_size[0] * image_size[1]))
    per_chunk = max(1, per_chunk)
    return [(start, min(start + per_chunk, num_trajectories)) for start in range(0, num_trajectories, per_chunk)]


def _trajectory_step(features_fn: FeaturesFn, weight: torch.Tensor, x: torch.Tensor, targets: torch.Tensor,
                     num_positive: torch.Tensor, initial_map: Optional[torch.Tensor], flipped_views: tuple,
                     mask_thresh: float, mask_coef: float, climb: bool) -> tuple:
    """Forward of one step for T trajectories x V views ``x (T*V, 3, h, w)``, trajectory-major.

    Returns ``(R_t (T, h', w'), y (T, V, K), M (T, h', w'), R_0, L)``, ``L``
    None when not ``climb``. ``L = sum (y_c - sum_{k != c} y_k) - lambda * sum
    M |R_t - R_0|`` is summed over the independent trajectories, so one
    input-only backward serves them all.
    """
    num_views = len(flipped_views)
    maps = class_maps(features_fn(x), weight)  # S, (T*V, K, h', w')
    maps = maps.unflatten(0, (-1, num_views))  # (T, V, K, h', w')
    index = targets.view(-1, 1, 1, 1, 1).expand(-1, num_views, 1, *maps.shape[3:])
    target_maps = maps.gather(2, index)[:, :, 0]  # S_c of each view, (T, V, h', w')
    attribution = gradcam_scaled_attribution(target_maps, num_positive, flipped_views)  # R_t
    region = attribution.detach()
    if initial_map is None:
        initial_map = region  # R_0
    # Restricting mask, recomputed every step as in the reference (a max of 0 gives no mask).
    mask = region / region.amax((1, 2), keepdim=True) > mask_thresh
    scores = F.relu(maps).mean((3, 4))  # y, (T, V, K)
    if not climb:
        return region, scores.detach(), mask, initial_map, None
    target_scores = scores.gather(2, targets.view(-1, 1, 1).expand(-1, num_views, 1))
    margin = 2 * target_scores.sum() - scores.sum()
    restriction = (mask * (attribution - initial_map).abs()).sum()
    return region, scores.detach(), mask, initial_map, margin - mask_coef * restriction


def _ascend(x: torch.Tensor, grad: torch.Tensor, num_views: int, step_size: float) -> torch.Tensor:
    """x <- clamp(x + step * g / max|g|, min x, max x), max and min over each trajectory's views, channels, pixels."""
    x = x.unflatten(0, (-1, num_views))
    grad = grad.unflatten(0, (-1, num_views))
    dims = (1, 2, 3, 4)
    normalised = grad / (grad.abs().amax(dims, keepdim=True) + 1e-12)
    lower, upper = x.amin(dims, keepdim=True), x.amax(dims, keepdim=True)
    return torch.minimum(torch.maximum(x + step_size * normalised, lower), upper).flatten(0, 1)


@functools.lru_cache(maxsize=None)
def _compiled(function, options: tuple):
    return torch.compile(function, **dict(options))


def _step_functions(compile: Union[None, bool, dict]) -> tuple:
    """The step's forward and ascent, eager or through ``torch.compile(**compile)`` (one compile per options)."""
    if not compile:
        return _trajectory_step, _ascend
    options = tuple(sorted(({} if compile is True else compile).items()))
    return _compiled(_trajectory_step, options), _compiled(_ascend, options)


def _climb_batch(features_fn: FeaturesFn, weight: torch.Tensor, images: torch.Tensor, class_ids: torch.Tensor,
                 steps: int, settings: _ClimbSettings, record: bool,
                 step_callback: Optional[StepCallback]) -> tuple:
    """Climb the trajectories ``(images[i], class_ids[i])`` as one batch of T trajectories x V views.

    ``images (T, 3, h, w)`` holds each trajectory's (rescaled) image,
    ``class_ids (T,)`` its target class (CPU int64). Returns ``(accumulated
    maps (T, h', w'), history dict or None)``.
    """
    flipped_views = settings.flipped_views
    num_views = len(flipped_views)
    targets = class_ids.to(weight.device, non_blocking=True)
    num_positive = positive_weight_count(weight)[targets]
    x = torch.stack([images, images.flip(-1)] if settings.flip else [images], 1).flatten(0, 1).detach()
    memory_format = torch.channels_last if settings.channels_last else torch.contiguous_format
    x = x.contiguous(memory_format=memory_format)  # (T*V, 3, h, w), trajectory-major
    forward, ascend = _step_functions(settings.compile)
    # A compiled step may run as a CUDA graph (mode='reduce-overhead') whose outputs the next replay
    # overwrites: what outlives a step is copied then.
    keep = (lambda tensor: tensor.clone()) if settings.compile else (lambda tensor: tensor)
    accumulated = initial_map = None
    history = {'maps': [], 'scores': [], 'masks': []} if record else None
    with settings.autocast(weight.device):
        for t in range(steps):
            climb = t < steps - 1  # the last step only contributes its map
            if settings.compile:
                torch.compiler.cudagraph_mark_step_begin()
            with torch.set_grad_enabled(climb):
                x_in = x.detach().requires_grad_(climb)
                region, scores, mask, initial_map, loss = forward(
                    features_fn, weight, x_in, targets, num_positive, initial_map, flipped_views,
                    settings.mask_thresh, settings.mask_coef, climb)
                initial_map = keep(initial_map) if t == 0 else initial_map
                accumulated = region.clone() if accumulated is None else accumulated + region
                if record:
                    history['maps'].append(keep(region))
                    history['scores'].append(keep(scores))
                    history['masks'].append(keep(mask))
                if step_callback is not None:
                    step_callback(t, {'class_ids': class_ids, 'images': x.detach().unflatten(0, (-1, num_views)),
                                      'maps': region, 'scores': scores, 'mask': mask})
                if not climb:
                    break
                grad, = torch.autograd.grad(loss, x_in)
            with torch.no_grad():
                x = keep(ascend(x_in.detach(), grad, num_views, settings.step_size))
                x = x.contiguous(memory_format=memory_format)
    if record:
        history = {key: torch.stack(value) for key, value in history.items()}
    return accumulated, history


def _climb_trajectories(features_fn: FeaturesFn, weight: torch.Tensor, images: torch.Tensor,
                        image_index: torch.Tensor, class_ids: torch.Tensor, steps: int, settings: _ClimbSettings,
                        record: bool, step_callback: Optional[StepCallback] = None) -> tuple:
    """Climb trajectories ``(images[image_index[i]], class_ids[i])``, chunked by the memory cap.

    ``images (N, 3, h, w)`` are the distinct images of one size (one scale);
    ``image_index`` and ``class_ids`` are CPU int64 ``(T,)``. Returns
    ``(maps (T, h', w'), history with trajectories on dim 1, or None)``.
    """
    chunks = climb_chunks(class_ids.numel(), len(settings.flipped_views), images.shape[-2:], settings.max_batch,
                          settings.max_batch_pixels)
    results = []
    for start, stop in chunks:
        index = image_index[start:stop].to(images.device, non_blocking=True)
        results.append(_climb_batch(features_fn, weight, images[index], class_ids[start:stop], steps, settings,
                                    record, step_callback))
    maps = torch.cat([maps for maps, _ in results]) if len(results) > 1 else results[0][0]
    if not record:
        return maps, None
    history = {key: torch.cat([h[key] for _, h in results], 1) for key in results[0][1]}
    return maps, history


def _feature_size(features_fn: FeaturesFn, image: torch.Tensor) -> tuple:
    """(h', w') of the features of one (3, h, w) image (for the empty results of images without classes)."""
    with torch.no_grad():
        return tuple(features_fn(image[None]).shape[-2:])


def _empty_history(steps: int, size: tuple, num_views: int, num_classes: int, dtype, device) -> dict:
    maps = torch.zeros(steps, 0, *size, dtype=dtype, device=device)
    return {'maps': maps, 'scores': torch.zeros(steps, 0, num_views, num_classes, dtype=dtype, device=device),
            'masks': maps.bool()}


def adv_climb(features_fn: FeaturesFn, weight: torch.Tensor, image: torch.Tensor, class_ids,
              steps: int = 27, step_size: float = 0.08, mask_thresh: float = 0.5,
              mask_coef: float = 7.0, flip: bool = True, *, max_batch: Optional[int] = None,
              return_history: bool = False, step_callback: Optional[StepCallback] = None, **run_options):
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
        run_options: ``max_batch_pixels``, ``amp``, ``channels_last``,
            ``compile`` as in :func:`advcam_maps_batch`.

    Returns:
        (C, h', w') accumulated map, not multiplied by the reference's
        ``mul_for_scale`` (:func:`advcam_maps` applies it); with
        ``return_history`` a tuple ``(maps, history)``.
    """
    weight, class_ids = check_cam_inputs(weight, image, class_ids)
    if steps < 1:
        raise ValueError(f'steps must be >= 1, got {steps}')
    settings = _ClimbSettings(step_size, mask_thresh, mask_coef, flip, max_batch, **run_options)
    if class_ids.numel() == 0:
        size = _feature_size(features_fn, image)
        empty = _empty_history(steps, size, len(settings.flipped_views), weight.shape[0],
                               map_dtype(image, weight), image.device)
        return (empty['maps'][0], empty) if return_history else empty['maps'][0]
    maps, history = _climb_trajectories(features_fn, weight, image[None], torch.zeros_like(class_ids), class_ids,
                                        steps, settings, return_history, step_callback)
    return (maps, history) if return_history else maps


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



#: The climbing parameters the paper's Fig. 6c-e varies, and its symbols for them (Eq. 2, 6, 7).
SWEPT_PARAMETERS = ('mask_coef', 'mask_thresh', 'step_size')
PARAMETER_SYMBOLS = {'mask_coef': 'lambda', 'mask_thresh': 'tau', 'step_size': 'xi'}


def prefix_schedule(num_scales: int, steps: int) -> tuple:
    """How many per-step maps each scale sums at t = 1 ... steps, as ``advcam_maps(steps=t)``.

    Returns ``(counts (steps, num_scales) int64, mul_for_scale (steps,))``:
    every scale sums t maps except the scale of index 1 (with more than one
    scale), which sums ``scale_schedule(t)[0]`` and sets the factor
    ``mul_for_scale``. The climb of ``steps`` steps has every map they need:
    ``scale_schedule`` never asks for more than ``scale_schedule(steps)[0]``.
    """
    counts = torch.arange(1, steps + 1, dtype=torch.int64)[:, None].repeat(1, num_scales)
    mul_for_scale = torch.ones(steps, dtype=torch.float64)
    if num_scales > 1:
        for t in range(1, steps + 1):
            counts[t - 1, 1], mul_for_scale[t - 1] = scale_schedule(t)
    return counts, mul_for_scale


def _check_images(weight: torch.Tensor, images: Sequence[torch.Tensor], class_ids: Sequence) -> tuple:
    """Validate a batch of images and their class lists; return ``(weight (K, D), [int64 CPU class ids])``."""
    if len(images) != len(class_ids):
        raise ValueError(f'{len(images)} images but {len(class_ids)} class id lists')
    checked = []
    for position, (image, ids) in enumerate(zip(images, class_ids)):
        try:
            weight, ids = check_cam_inputs(weight, image, ids)
        except ValueError as error:
            raise ValueError(f'images[{position}]: {error}') from error
        if image.shape[0] != 3:
            raise ValueError(f'images[{position}]: image must be (3, H, W), got shape {tuple(image.shape)}')
        checked.append(ids)
    return head_weight(weight), checked


def _climb_all_scales(features_fn: FeaturesFn, weight: torch.Tensor, images: Sequence[torch.Tensor],
                      class_ids: List[torch.Tensor], scales: Sequence[float], steps: int,
                      settings: _ClimbSettings, record: bool) -> list:
    """Climb every (image, class) trajectory at every scale, equal sizes batched together.

    Returns, per image, ``{scale index: (maps (C_i, h', w'), history or None)}``
    with the reference's schedule (the scale of index 1 climbs
    ``scale_schedule(steps)[0]`` steps, with more than one scale).
    """
    if not scales:
        raise ValueError('scales must not be empty')
    if steps < 1:
        raise ValueError(f'steps must be >= 1, got {steps}')
    device = weight.device
    num_views = len(settings.flipped_views)
    results = [{} for _ in images]
    groups = group_by_size(range(len(images)), lambda i: tuple(images[i].shape[-2:]), lookahead=len(images))
    for group in groups:
        counts = torch.tensor([class_ids[i].numel() for i in group], dtype=torch.int64)
        image_index = torch.repeat_interleave(torch.arange(len(group)), counts)  # trajectory -> image in group
        targets = torch.cat([class_ids[i] for i in group])
        group_images = torch.stack([images[i].to(device, non_blocking=True) for i in group])
        dtype = map_dtype(group_images, weight)
        for index in scale_order(len(scales)):
            num_steps = scale_schedule(steps)[0] if index == 1 else steps
            x = torch.stack([rescale_image(image, scales[index]) for image in group_images])
            if targets.numel():
                maps, history = _climb_trajectories(features_fn, weight, x, image_index, targets, num_steps,
                                                    settings, record)
            else:  # no image of the group has a class: nothing to climb
                size = _feature_size(features_fn, x[0]) if record else x.shape[-2:]
                maps = torch.zeros(0, *size, dtype=dtype, device=device)
                history = _empty_history(num_steps, size, num_views, weight.shape[0], dtype, device) if record else None
            per_image_maps = maps.split(counts.tolist())
            per_image_history = ([dict(zip(history, parts)) for parts in
                                  zip(*(value.split(counts.tolist(), 1) for value in history.values()))]
                                 if record else [None] * len(group))
            for position, i in enumerate(group):
                results[i][index] = (per_image_maps[position], per_image_history[position])
    return results


def advcam_maps_batch(features_fn: FeaturesFn, weight: torch.Tensor, images: Sequence[torch.Tensor],
                      class_ids: Sequence, scales: Sequence[float] = (1.0, 0.5, 1.5, 2.0), steps: int = 27,
                      step_size: float = 0.08, mask_thresh: float = 0.5, mask_coef: float = 7.0,
                      flip: bool = True, *, max_batch: Optional[int] = None,
                      max_batch_pixels: Optional[int] = None, amp: Optional[str] = None,
                      channels_last: bool = False, compile: Union[None, bool, dict] = None,
                      return_history: bool = False) -> List[dict]:
    """Multi-scale AdvCAM maps of several images, all classes x views x images of a size climbing together.

    Each result equals :func:`advcam_maps` of that image alone (float64
    exactly; see the module docstring): same scales, the reference's order
    and 0.5-scale schedule, ``mul_for_scale`` and aggregation. Images of equal
    size, at each scale, form one set of independent trajectories (one per
    image and class), climbed in batches of at most ``max_batch`` views and
    ``max_batch_pixels`` view pixels (:func:`climb_chunks`). Images are moved
    to ``weight``'s device (``non_blocking``: pin them for an overlapped copy).

    Args:
        features_fn, weight, scales, steps, step_size, mask_thresh, mask_coef,
            flip: as :func:`advcam_maps`.
        images: normalised (3, H_i, W_i) tensors; sizes may differ.
        class_ids: one list of class ids per image (possibly empty).
        max_batch: at most this many views (trajectories x views) per batch.
        max_batch_pixels: at most this many view pixels per batch, the memory
            cap that adapts to the scale (a byte budget divided by the bytes
            per view pixel the benchmark prints).
        amp: None (the caller's autocast state), 'bfloat16' or 'float16':
            climb under ``torch.autocast``; class maps, attribution, loss and
            the image update stay in float32.
        channels_last: feed the network channels_last images (convolutions
            then run channels_last; convert the model too for full effect).
        compile: ``torch.compile`` options (hashable values) for the step's
            forward (network, attribution, loss; its backward is compiled
            with it) and ascent; True: the defaults. Compiled once per options
            and reused for every batch of the same shape (a first, a middle
            and a last step are three graphs; after a shape change torch
            recompiles with dynamic shapes, ``dynamic=False`` keeps one graph
            per shape up to ``torch._dynamo.config.recompile_limit``).
            ``dict(mode='reduce-overhead')`` runs each step as CUDA graphs;
            what outlives a step is copied for it. Checked here on CPU only:
            ``aot_eager`` in the tests, inductor once (same maps to 7e-16,
            a minute or more to compile on 2 cores); the CUDA graph mode is
            untested (no GPU here).
        return_history: add ``'history'``: per scale index i (``scales[i]``),
            ``{'maps': (n_i, C, h', w'), 'scores': (n_i, C, V, K), 'masks':
            (n_i, C, h', w')}`` of the n_i steps climbed there.

    Returns:
        one dict per image, in input order: ``{'keys': (C,) int64,
        'strided': (C, ceil(H/4), ceil(W/4)), 'high_res': (C, H, W)}``.
    """
    weight, class_ids = _check_images(weight, images, class_ids)
    settings = _ClimbSettings(step_size, mask_thresh, mask_coef, flip, max_batch, max_batch_pixels, amp,
                              channels_last, compile)
    climbed = _climb_all_scales(features_fn, weight, images, class_ids, scales, steps, settings, return_history)
    mul_for_scale = scale_schedule(steps)[1] if len(scales) > 1 else 1.0
    results = []
    for image, ids, per_scale in zip(images, class_ids, climbed):
        scale_maps = [per_scale[index][0] * mul_for_scale for index in scale_order(len(scales))]
        strided, high_res = aggregate_scale_maps(scale_maps, image.shape[-2:])
        result = {'keys': ids, 'strided': strided, 'high_res': high_res}
        if return_history:
            result['history'] = [per_scale[index][1] for index in range(len(scales))]
        results.append(result)
    return results


def advcam_maps_stream(features_fn: FeaturesFn, weight: torch.Tensor, samples: Iterable,
                       lookahead: int = 64, max_group: Optional[int] = None, **settings) -> Iterator[tuple]:
    """:func:`advcam_maps_batch` over a stream of samples, equal sizes grouped with a bounded look-ahead.

    ``samples`` yield objects with ``.image`` ((3, H, W) normalised) and
    ``.class_ids`` (e.g. :class:`advcam_mm.datasets.class_map_inputs.ClassMapInput`
    from a ``DataLoader``). Groups are formed by
    :func:`~advcam_mm.core.size_groups.group_by_size` (``lookahead``,
    ``max_group``): deterministic for a given order, so reruns and ranks
    batch alike. Yields ``(sample, maps)`` group by group, in the order the
    groups complete; ``settings`` are those of :func:`advcam_maps_batch`.
    """
    for group in group_by_size(samples, lambda sample: tuple(sample.image.shape[-2:]), lookahead, max_group):
        results = advcam_maps_batch(features_fn, weight, [sample.image for sample in group],
                                    [sample.class_ids for sample in group], **settings)
        yield from zip(group, results)


def advcam_maps(features_fn: FeaturesFn, weight: torch.Tensor, image: torch.Tensor, class_ids,
                scales: Sequence[float] = (1.0, 0.5, 1.5, 2.0), steps: int = 27, step_size: float = 0.08,
                mask_thresh: float = 0.5, mask_coef: float = 7.0, flip: bool = True, *,
                max_batch: Optional[int] = None, **run_options) -> dict:
    """Multi-scale AdvCAM maps of one image, as ``obtain_CAM_masking.py`` makes them.

    Each scale rescales ``image (3, H, W)`` (see
    :func:`~advcam_mm.core.cam.rescale_image`: bilinear on the normalised
    tensor here, PIL bicubic on the uint8 image in the reference) and climbs
    as :func:`adv_climb`. The reference's schedule: scales run in its order
    (index 1, then 0, 2, 3, ...; with one scale, just it); the scale of index 1
    (0.5 by default) climbs :func:`scale_schedule` (steps) steps, and the
    factor it sets, ``mul_for_scale``, multiplies the maps of every scale (it
    persists across scales in the reference; 1 with a single scale; the final
    normalisation cancels it but for the +1e-5). The maps are aggregated as IRN
    does (:func:`~advcam_mm.core.cam.aggregate_scale_maps`). ``steps=1`` gives
    the maps without climbing: IRN's multi-scale CAM up to the per-view factor
    n_v / (P_c sum n). ``max_batch`` and ``run_options`` as in
    :func:`advcam_maps_batch`, of which this is the one-image case.

    Returns:
        ``{'keys': class_ids (C,) int64, 'strided': (C, ceil(H/4), ceil(W/4)),
        'high_res': (C, H, W)}``.
    """
    weight, class_ids = check_cam_inputs(weight, image, class_ids)
    return advcam_maps_batch(features_fn, weight, [image], [class_ids], scales, steps, step_size, mask_thresh,
                             mask_coef, flip, max_batch=max_batch, **run_options)[0]


def advcam_prefix_maps_batch(features_fn: FeaturesFn, weight: torch.Tensor, images: Sequence[torch.Tensor],
                             class_ids: Sequence, scales: Sequence[float] = (1.0, 0.5, 1.5, 2.0), steps: int = 27,
                             step_size: float = 0.08, mask_thresh: float = 0.5, mask_coef: float = 7.0,
                             flip: bool = True, **run_options) -> List[dict]:
    """AdvCAM maps after every iteration t = 1 ... steps, from one batched climb (the paper's Fig. 6).

    The accumulated map ``A_t = R_0 + ... + R_{t-1}`` is a prefix sum of the
    per-step maps, and the first t steps of a longer climb are a climb of t,
    so ``high_res[t - 1]`` equals ``advcam_maps(..., steps=t)['high_res']``
    for every t (per scale: :func:`prefix_schedule`), at the cost of one
    ``advcam_maps_batch(..., steps=steps)``. ``run_options`` as there.

    Returns:
        one dict per image: ``{'keys': (C,) int64, 'strided': (steps, C,
        ceil(H/4), ceil(W/4)), 'high_res': (steps, C, H, W)}``.
    """
    weight, class_ids = _check_images(weight, images, class_ids)
    settings = _ClimbSettings(step_size, mask_thresh, mask_coef, flip, **run_options)
    climbed = _climb_all_scales(features_fn, weight, images, class_ids, scales, steps, settings, record=True)
    counts, mul_for_scale = prefix_schedule(len(scales), steps)
    results = []
    for image, ids, per_scale in zip(images, class_ids, climbed):
        scale_maps = []
        for index in scale_order(len(scales)):
            prefix = per_scale[index][1]['maps'].cumsum(0)  # A_n = R_0 + ... + R_{n-1}, (n, C, h, w)
            picked = prefix[(counts[:, index] - 1).to(prefix.device)]
            factor = mul_for_scale.to(prefix.device, prefix.dtype)[:, None, None, None]
            scale_maps.append((picked * factor).flatten(0, 1))  # (steps * C, h, w)
        strided, high_res = aggregate_scale_maps(scale_maps, image.shape[-2:])
        results.append({'keys': ids, 'strided': strided.unflatten(0, (steps, ids.numel())),
                        'high_res': high_res.unflatten(0, (steps, ids.numel()))})
    return results


def advcam_prefix_maps(features_fn: FeaturesFn, weight: torch.Tensor, image: torch.Tensor, class_ids,
                       scales: Sequence[float] = (1.0, 0.5, 1.5, 2.0), steps: int = 27, **settings) -> dict:
    """:func:`advcam_prefix_maps_batch` of one image."""
    weight, class_ids = check_cam_inputs(weight, image, class_ids)
    return advcam_prefix_maps_batch(features_fn, weight, [image], [class_ids], scales, steps, **settings)[0]
