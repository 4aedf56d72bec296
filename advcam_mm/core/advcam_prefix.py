"""AdvCAM maps after every iteration t = 1 ... T from one climb (the paper's Fig. 6 from one run).

The accumulated map after t steps, ``A_t = R_0 + ... + R_{t-1}``
(:func:`~advcam_mm.core.advcam.adv_climb`), is a prefix sum of the per-step
maps, and the first t steps of a longer climb are the steps of a climb of t
(a trajectory does not depend on how far it will go). So one climb of
``steps`` steps with ``return_history=True`` gives the maps of every
iteration; t = 1 is the CAM (R_0, the unmodified image). Multi-scale maps
follow :func:`~advcam_mm.core.advcam.advcam_maps` per t: the maps of iteration
t are exactly ``advcam_maps(..., steps=t)`` (the scale of index 1 sums
``scale_schedule(t)`` maps and ``mul_for_scale`` is that of t), aggregated by
:func:`~advcam_mm.core.cam.aggregate_scale_maps`.
"""
from typing import Optional, Sequence

import numpy as np
import torch

from .advcam import adv_climb, scale_order, scale_schedule
from .cam import aggregate_scale_maps, check_cam_inputs, rescale_image

#: The climbing parameters Fig. 6c-e varies, and the paper's symbols for them (Eq. 2, 6, 7).
SWEPT_PARAMETERS = ('mask_coef', 'mask_thresh', 'step_size')
PARAMETER_SYMBOLS = {'mask_coef': 'lambda', 'mask_thresh': 'tau', 'step_size': 'xi'}

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
