"""Class activation maps (CAM) and the Grad-CAM attribution AdvCAM accumulates.

Framework-free: tensors in, tensors out. A classifier enters through the CAM
protocol of this project: ``features_fn(x) -> F (B, D, h, w)`` (its last stage)
and ``weight (K, D)`` (its bias-free 1x1 classification head), so that the
class maps are ``S = conv1x1(F, weight)`` (Zhou et al., CVPR 2016).

The multi-scale aggregation (:func:`rescale_image`, :func:`aggregate_scale_maps`,
:func:`multiscale_cam`) follows IRN's ``step/make_cam.py``, which AdvCAM's
``obtain_CAM_masking.py`` reuses.
"""
import math
from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F

FeaturesFn = Callable[[torch.Tensor], torch.Tensor]


def head_weight(weight: torch.Tensor) -> torch.Tensor:
    """Return the classification head as a (K, D) matrix.

    Accepts ``(K, D)`` or a 1x1 convolution kernel ``(K, D, 1, 1)``.
    """
    if weight.dim() == 4 and weight.shape[2:] == (1, 1):
        weight = weight.flatten(1)
    if weight.dim() != 2:
        raise ValueError(f'weight must be (K, D) or (K, D, 1, 1), got shape {tuple(weight.shape)}')
    return weight


def map_dtype(*tensors: torch.Tensor) -> torch.dtype:
    """float64 if any input is float64, else float32 (never half precision)."""
    return torch.float64 if any(t.dtype == torch.float64 for t in tensors) else torch.float32


def class_maps(features: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Class maps ``S = conv1x1(F, weight)`` without bias: (B, D, h, w) -> (B, K, h, w).

    Computed in float32 (float64 if an input is float64) with autocast
    disabled: the maps are small, and AdvCAM's attribution and restriction
    term are sensitive to their precision. Gradients flow to ``features``.
    """
    weight = head_weight(weight)
    if features.dim() != 4 or features.shape[1] != weight.shape[1]:
        raise ValueError(f'features must be (B, D={weight.shape[1]}, h, w), got shape {tuple(features.shape)}')
    dtype = map_dtype(features, weight)
    with torch.autocast(features.device.type, enabled=False):
        return F.conv2d(features.to(dtype), weight.to(dtype)[:, :, None, None])


def positive_weight_count(weight: torch.Tensor) -> torch.Tensor:
    """P_c: number of positive entries of each class's head weight, (K, D) -> (K,)."""
    return (head_weight(weight) > 0).sum(1)


def gradcam_scaled_attribution(target_maps: torch.Tensor, num_positive_weights: torch.Tensor,
                               flipped_views: Optional[Sequence[bool]] = None) -> torch.Tensor:
    """Grad-CAM map of one class over its views, in closed form, as AdvCAM uses it.

    ``R = sum_v unflip(ReLU(S_v)) * n_v / (P * sum_v' n_v')`` with ``n_v`` the
    number of positions where ``S_v > 0`` and ``P`` the number of positive
    entries of the class's head weight; ``n_v`` and ``P`` are constants
    (no gradient), the gradient flows through ``S`` only.

    This is exactly what the reference (``gradCAM.py`` on the last stage, fed
    the gsp2d logit ``sum_p ReLU(S_c)``) computes with a second backward: the
    gradient at the features is ``1[S_v > 0] * w_c``, ``gap2d_pos`` divides its
    spatial sum ``n_v * w_c`` by the count of positive gradient entries over
    the whole view batch, ``P * sum_v n_v``, and ``ReLU(sum_d F_d * weight_d)``
    is then ``ReLU(S_v) * n_v / (P * sum n)``. The reference's ``+1e-12`` in
    that denominator is kept. Its scale (about 1 / (2 P)) is what AdvCAM's
    restriction coefficient (lambda = 7) is calibrated for.

    Args:
        target_maps: (C, V, h, w) class map of each trajectory's target class,
            one per view.
        num_positive_weights: (C,) P of each trajectory's target class.
        flipped_views: V booleans, True where the view is the horizontal flip
            of the image (its map is flipped back before summing); default
            none flipped.

    Returns:
        (C, h, w) attribution maps.
    """
    if target_maps.dim() != 4:
        raise ValueError(f'target_maps must be (C, V, h, w), got shape {tuple(target_maps.shape)}')
    num_views = target_maps.shape[1]
    if flipped_views is None:
        flipped_views = (False, ) * num_views
    if len(flipped_views) != num_views:
        raise ValueError(f'flipped_views has {len(flipped_views)} entries for {num_views} views')
    positive_count = (target_maps > 0).sum((2, 3)).to(target_maps.dtype)  # n_v, (C, V)
    total = num_positive_weights.to(target_maps.dtype)[:, None] * positive_count.sum(1, keepdim=True)
    view_scale = positive_count / (total + 1e-12)
    per_view = F.relu(target_maps) * view_scale[:, :, None, None]
    attribution = None
    for v, flipped in enumerate(flipped_views):
        view_map = per_view[:, v].flip(-1) if flipped else per_view[:, v]
        attribution = view_map if attribution is None else attribution + view_map
    return attribution


def rescale_image(image: torch.Tensor, scale: float) -> torch.Tensor:
    """Rescale a (3, H, W) normalised image to (round(H*s), round(W*s)).

    Bilinear, align_corners=False. IRN/AdvCAM rescale the uint8 image with
    PIL bicubic before normalising; rescaling the normalised tensor bilinearly
    keeps this core free of image I/O (a small, documented difference).
    Rounding is numpy's (half to even), as in IRN's ``pil_rescale``.
    """
    height, width = image.shape[-2:]
    size = (int(round(height * scale)), int(round(width * scale)))
    if size == (height, width):
        return image
    return F.interpolate(image[None], size, mode='bilinear', align_corners=False)[0]


def aggregate_scale_maps(scale_maps: Sequence[torch.Tensor], image_size: Sequence[int]) -> tuple:
    """IRN's multi-scale aggregation of per-scale class maps (C, h_s, w_s).

    Returns ``(strided, high_res)``: the maps bilinearly resized to the stride-4
    size (ceil(H/4), ceil(W/4)) and summed; and resized to the stride-16 padded
    size (ceil(H/16)*16, ceil(W/16)*16), summed and cropped to (H, W). Each
    class map is divided by its maximum + 1e-5.
    """
    height, width = image_size
    strided_size = (math.ceil(height / 4), math.ceil(width / 4))
    padded_size = (math.ceil(height / 16) * 16, math.ceil(width / 16) * 16)
    strided = high_res = None
    for maps in scale_maps:  # as (C, 1, h, w): a batch of C one-channel maps, C may be 0
        s = F.interpolate(maps[:, None], strided_size, mode='bilinear', align_corners=False)[:, 0]
        h = F.interpolate(maps[:, None], padded_size, mode='bilinear', align_corners=False)[:, 0]
        strided = s if strided is None else strided + s
        high_res = h if high_res is None else high_res + h
    high_res = high_res[:, :height, :width]
    strided = strided / (strided.amax((1, 2), keepdim=True) + 1e-5)
    high_res = high_res / (high_res.amax((1, 2), keepdim=True) + 1e-5)
    return strided, high_res


def check_cam_inputs(weight: torch.Tensor, image: torch.Tensor, class_ids) -> tuple:
    """Validate the common inputs; return ``(weight (K, D), class_ids int64 tensor)``."""
    weight = head_weight(weight)
    if image.dim() != 3:
        raise ValueError(f'image must be one normalised image (3, H, W), got shape {tuple(image.shape)}')
    class_ids = torch.as_tensor(class_ids, dtype=torch.int64).reshape(-1).cpu()
    num_classes = weight.shape[0]
    if class_ids.numel() and (class_ids.min() < 0 or class_ids.max() >= num_classes):
        raise ValueError(f'class_ids {class_ids.tolist()} out of range for {num_classes} classes')
    return weight, class_ids


@torch.no_grad()
def multiscale_cam(features_fn: FeaturesFn, weight: torch.Tensor, image: torch.Tensor, class_ids,
                   scales: Sequence[float] = (1.0, 0.5, 1.5, 2.0), flip: bool = True) -> dict:
    """Multi-scale CAM as IRN's ``make_cam``: ReLU(S_c) of [x, flip(x)] per scale, aggregated.

    Returns ``{'keys': class_ids, 'strided': (C, ceil(H/4), ceil(W/4)),
    'high_res': (C, H, W)}`` as :func:`advcam.advcam_maps` does.
    """
    weight, class_ids = check_cam_inputs(weight, image, class_ids)
    scale_maps = []
    for scale in scales:
        x = rescale_image(image, scale)
        views = torch.stack([x, x.flip(-1)] if flip else [x])
        maps = F.relu(class_maps(features_fn(views), weight)[:, class_ids.to(weight.device)])
        scale_maps.append(maps[0] + maps[1].flip(-1) if flip else maps[0])
    strided, high_res = aggregate_scale_maps(scale_maps, image.shape[-2:])
    return {'keys': class_ids, 'strided': strided, 'high_res': high_res}
