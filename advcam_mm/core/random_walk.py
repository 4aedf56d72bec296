"""Random walk on the inter-pixel affinities of a class boundary map (IRN's inference).

IRN (``misc/indexing.py`` propagate_to_edge, ``step/make_sem_seg_labels.py``;
AdvCAM's copy of the latter adds ``cam ** 1.5``):

1. affinities of pixel pairs closer than ``radius`` (5) on the stride-4 grid,
   ``a_ij = 1 - max(boundary on the path i-j)``, self-affinity 1;
2. transition matrix from ``a_ij ** beta`` (beta = 10), normalised;
3. the maps, multiplied by ``1 - boundary``, are propagated ``2 ** exp_times``
   (256) steps.

IRN builds the dense ``N x N`` matrix ``T = A / colsum(A)`` and squares it
``exp_times`` times (``x @ T ** 256``).  Here the same walk runs as ``2 **
exp_times`` products with ``P = T^T = rowsum(A)^-1 A`` (row-stochastic) on a
sparse matrix (about 69 entries per row at radius 5), so memory is ``O(N)``: a
500 x 500 image (125 x 125 grid) needs ~1M entries instead of 244M.  The dense
path is kept for small grids and for checking.
"""
import warnings

import torch
import torch.nn.functional as F

from .affinity import edge_to_affinity
from .pair_indices import INFERENCE_RADIUS, pair_index

# IRN / AdvCAM run_sample.py defaults.
BETA = 10
EXP_TIMES = 8
SEM_SEG_BG_THRES = 0.25
# AdvCAM's step/make_sem_seg_labels.py raises the stride-4 maps to this power
# before the walk (IRN's own code uses the maps as they are, i.e. power 1).
CAM_POWER = 1.5
# IRN's random walk runs on the stride-4 grid.
FEATURE_STRIDE = 4


def boundary_affinity_graph(boundary, radius=INFERENCE_RADIUS):
    """Affinities of all pixel pairs closer than ``radius`` on an ``(h, w)`` boundary map.

    As IRN's ``propagate_to_edge``: the map is padded with boundary 1 on the
    left, right and bottom so every real pixel is a pair source; pairs touching
    the padding (affinity 0) are then dropped.

    Returns:
        ``(affinity (P,), indices_from (P,), indices_to (P,))``, flat indices
        into ``h * w``; each unordered pair once, no self pairs.
    """
    if boundary.dim() != 2:
        raise ValueError(f'boundary must be an (h, w) map, got shape {tuple(boundary.shape)}')
    height, width = boundary.shape
    padded = F.pad(boundary[None, None], (radius, radius, 0, radius), mode='constant', value=1.0)[0, 0]
    padded_width = width + 2 * radius
    index = pair_index(padded.shape, radius, device=boundary.device)
    affinity = edge_to_affinity(padded, index)  # (D, S)
    indices_from = index.indices_from.expand_as(index.indices_to)
    real_from, real_to = (_unpad(i, padded_width, height, width, radius) for i in (indices_from, index.indices_to))
    keep = (real_from >= 0) & (real_to >= 0)
    return affinity[keep], real_from[keep], real_to[keep]


def _unpad(flat, padded_width, height, width, radius):
    """Flat index in the padded grid -> flat index in the real grid, -1 for padding."""
    y, x = flat // padded_width, flat % padded_width - radius
    inside = (y < height) & (x >= 0) & (x < width)
    return torch.where(inside, y * width + x, torch.full_like(flat, -1))


def transition_matrix_from_affinity(affinity, indices_from, indices_to, num_nodes, beta=BETA, sparse=True):
    """Row-stochastic ``P = D^-1 A`` with ``A = I + sym(affinity ** beta)``.

    IRN's ``to_transition_matrix`` normalises the columns of ``A`` and multiplies
    row vectors from the left; ``P`` is its transpose, for column vectors.

    Args:
        affinity: ``(P,)`` (or any shape broadcast with the indices) in [0, 1].
        indices_from, indices_to: flat node indices of each pair, each unordered
            pair once and no self pairs (as :func:`boundary_affinity_graph` gives).
        num_nodes: ``N``.
        beta: affinity exponent (IRN's ``beta`` = 10).
        sparse: return a sparse CSR tensor (``False``: dense ``(N, N)``).
    """
    affinity, indices_from, indices_to = torch.broadcast_tensors(
        affinity, indices_from.to(affinity.device), indices_to.to(affinity.device))
    weight = affinity.reshape(-1) ** beta
    indices_from, indices_to = indices_from.reshape(-1), indices_to.reshape(-1)
    if weight.numel() and int(torch.maximum(indices_from.max(), indices_to.max())) >= num_nodes:
        raise ValueError(f'pair indices exceed num_nodes={num_nodes}')
    if sparse:  # exact zeros (pairs across a full boundary) carry no walk
        nonzero = weight > 0
        weight, indices_from, indices_to = weight[nonzero], indices_from[nonzero], indices_to[nonzero]
    nodes = torch.arange(num_nodes, device=weight.device)
    rows = torch.cat([indices_from, indices_to, nodes])
    cols = torch.cat([indices_to, indices_from, nodes])
    values = torch.cat([weight, weight, torch.ones(num_nodes, dtype=weight.dtype, device=weight.device)])
    degree = torch.zeros(num_nodes, dtype=weight.dtype, device=weight.device).index_add_(0, rows, values)
    values = values / degree[rows]
    if not sparse:
        dense = torch.zeros(num_nodes, num_nodes, dtype=weight.dtype, device=weight.device)
        return dense.index_put_((rows, cols), values, accumulate=True)
    order = torch.argsort(rows * num_nodes + cols)
    row_pointers = torch.zeros(num_nodes + 1, dtype=torch.int64, device=weight.device)
    row_pointers[1:] = torch.cumsum(torch.bincount(rows, minlength=num_nodes), 0)
    with warnings.catch_warnings():  # "sparse CSR support is in beta state"
        warnings.simplefilter('ignore', UserWarning)
        return torch.sparse_csr_tensor(row_pointers, cols[order], values[order], (num_nodes, num_nodes),
                                       check_invariants=False)


def random_walk(maps, transition, exp_times=EXP_TIMES):
    """Propagate ``maps`` ``(C, h, w)`` (or ``(C, N)``) ``2 ** exp_times`` steps: ``v <- P v``.

    ``transition`` is the row-stochastic ``(N, N)`` matrix of
    :func:`transition_matrix_from_affinity`, sparse or dense.  The maps are
    taken as given; IRN does not add a background channel before the walk.
    """
    num_nodes = transition.shape[0]
    values = maps.reshape(maps.shape[0], -1)
    if values.shape[1] != num_nodes:
        raise ValueError(f'maps of shape {tuple(maps.shape)} do not match a transition matrix '
                         f'over {num_nodes} nodes')
    values = values.t().to(transition.dtype).contiguous()  # (N, C)
    for _ in range(2 ** exp_times):
        values = transition @ values
    return values.t().reshape(maps.shape)


def propagate_to_boundary(maps, boundary, radius=INFERENCE_RADIUS, beta=BETA, exp_times=EXP_TIMES, sparse=True):
    """IRN's ``propagate_to_edge``: walk ``maps * (1 - boundary)`` over the boundary's affinities.

    Args:
        maps: ``(C, h, w)`` stride-4 class maps.
        boundary: ``(h, w)`` class boundary probabilities (IRNet's edge output).
    """
    if maps.dim() != 3 or maps.shape[1:] != boundary.shape:
        raise ValueError(f'maps (C, h, w) {tuple(maps.shape)} and boundary (h, w) '
                         f'{tuple(boundary.shape)} must share (h, w)')
    boundary = boundary.float()
    affinity, indices_from, indices_to = boundary_affinity_graph(boundary, radius)
    transition = transition_matrix_from_affinity(
        affinity, indices_from, indices_to, boundary.numel(), beta=beta, sparse=sparse)
    return random_walk(maps.to(boundary) * (1 - boundary), transition, exp_times)


def refine_with_random_walk(strided_cams, keys, edge, image_size, beta=BETA, exp_times=EXP_TIMES,
                            sem_seg_bg_thres=SEM_SEG_BG_THRES, radius=INFERENCE_RADIUS, cam_power=CAM_POWER,
                            sparse=True):
    """Pseudo mask ``(H, W)`` int64 from stride-4 class maps and IRNet's boundary map.

    AdvCAM's ``step/make_sem_seg_labels.py``: ``cams ** 1.5``, random walk,
    bilinear x4 upsampling cropped to the image, division by the global maximum,
    a constant background score ``sem_seg_bg_thres`` prepended, argmax, and the
    lookup ``[0, keys + 1]`` (dataset class ids, 0 = background).

    Deviations: negative map values are clipped to 0 before the power (the
    reference's maps are non-negative); with no class or an all-zero walk the
    image is background (the reference divides by zero).

    Args:
        strided_cams: ``(C, h, w)`` maps of the present classes, ``h = ceil(H / 4)``.
        keys: ``(C,)`` 0-based foreground class ids.
        edge: ``(h, w)`` boundary probabilities.
        image_size: ``(H, W)``.
    """
    strided_cams = torch.as_tensor(strided_cams)
    edge = torch.as_tensor(edge)
    keys = torch.as_tensor(keys, dtype=torch.int64).reshape(-1)
    height, width = (int(s) for s in image_size)
    strided_size = (-(-height // FEATURE_STRIDE), -(-width // FEATURE_STRIDE))
    if strided_cams.dim() != 3 or strided_cams.shape[0] != keys.numel():
        raise ValueError(f'strided_cams must be (C, h, w) with C = len(keys) = {keys.numel()}, '
                         f'got shape {tuple(strided_cams.shape)}')
    if tuple(edge.shape) != strided_size or tuple(strided_cams.shape[1:]) != strided_size:
        raise ValueError(f'image {height}x{width} needs stride-4 maps and edge of size {strided_size}, '
                         f'got maps {tuple(strided_cams.shape[1:])} and edge {tuple(edge.shape)}')
    if keys.numel() == 0:
        return torch.zeros(height, width, dtype=torch.int64, device=edge.device)
    cams = strided_cams.to(edge.device).float().clamp(min=0) ** cam_power
    walked = propagate_to_boundary(cams, edge, radius=radius, beta=beta, exp_times=exp_times, sparse=sparse)
    upsampled = F.interpolate(walked[:, None], scale_factor=FEATURE_STRIDE, mode='bilinear',
                              align_corners=False)[:, 0, :height, :width]
    peak = upsampled.max()
    if peak > 0:
        upsampled = upsampled / peak
    background = torch.full_like(upsampled[:1], sem_seg_bg_thres)
    prediction = torch.argmax(torch.cat([background, upsampled]), dim=0)
    lookup = torch.cat([keys.new_zeros(1), keys + 1]).to(prediction.device)
    return lookup[prediction]
