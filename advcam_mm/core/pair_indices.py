"""Pixel pairs within a radius and the straight paths between them (IRN's ``PathIndex``).

IRN (Ahn et al., CVPR 2019, ``misc/indexing.py``) relates each pixel of the
stride-4 feature grid to its neighbours closer than ``radius``.  Conventions
kept here on purpose, so that labels, network outputs and the random walk agree
with the reference:

* **search directions** ``(dy, dx)``: ``dy == 0, 0 < dx < radius`` and
  ``0 < dy < radius, |dx| < radius`` with ``dy**2 + dx**2 < radius**2``: a
  half-plane, so each unordered pair of pixels occurs once;
* a pair's **path** is every grid cell of the bounding box of the two pixels
  whose distance to the line through them is below one cell; the affinity of
  the pair is ``1 - max(boundary on the path)`` (both ends included);
* **sources** are the pixels ``(y, x)`` with ``y < h - (radius - 1)`` and
  ``radius - 1 <= x < w - (radius - 1)``, so that every destination
  ``(y + dy, x + dx)`` lies inside the grid (IRN's crop of the source grid;
  the random walk pads the boundary map so that no real pixel is cut off);
* directions are ordered by path length (stable, otherwise in the order above),
  which is the order of IRN's ``search_dst`` and of its affinity outputs.

Index arrays are flat indices into the ``h * w`` grid (row-major), built with
array arithmetic and cached per ``(feature_size, radius)``: treat the returned
tensors as read-only.
"""
import functools
from typing import NamedTuple, Optional, Tuple

import numpy as np
import torch

# IRN's radius when training IRNet (step/train_irn.py) and for the random walk
# at inference (step/make_sem_seg_labels.py).
TRAIN_RADIUS = 10
INFERENCE_RADIUS = 5


class PairIndex(NamedTuple):
    """All index tensors of one ``(feature_size, radius)``; ``D`` directions, ``S`` sources.

    Attributes:
        radius: pairs are closer than this (grid cells).
        feature_size: ``(h, w)`` of the grid.
        directions: ``(D, 2)`` int64 ``(dy, dx)`` of each direction
            (IRN's ``search_dst``); also the displacement target of a pair.
        indices_from: ``(S,)`` int64 flat index of each source pixel.
        indices_to: ``(D, S)`` int64 flat index of ``source + directions[d]``.
        path_indices: one ``(D_g, L_g, S)`` int64 tensor per path length
            ``L_g`` (ascending); concatenating the groups along the first axis
            gives the ``D`` directions in order; ``[:, 0]`` is the destination.
    """
    radius: int
    feature_size: Tuple[int, int]
    directions: torch.Tensor
    indices_from: torch.Tensor
    indices_to: torch.Tensor
    path_indices: Tuple[torch.Tensor, ...]


def _check_radius(radius):
    if isinstance(radius, bool) or not isinstance(radius, (int, np.integer)) or radius < 2:
        raise ValueError(f'radius must be an integer >= 2 (pairs closer than radius cells), got {radius!r}')
    return int(radius)


def _check_size(feature_size, radius):
    if len(feature_size) != 2:
        raise ValueError(f'feature_size must be (h, w), got {feature_size!r}')
    height, width = (int(s) for s in feature_size)
    margin = radius - 1
    if height - margin < 1 or width - 2 * margin < 1:
        raise ValueError(f'feature_size {(height, width)} too small for radius {radius}: '
                         f'need h >= {margin + 1} and w >= {2 * margin + 1}')
    return height, width


def _path_offsets(dy, dx):
    """Cells ``(y, x)`` of the path from ``(0, 0)`` to ``(dy, dx)``, destination first."""
    ys = np.arange(min(0, dy), max(0, dy) + 1)
    xs = np.arange(min(0, dx), max(0, dx) + 1)
    grid_y, grid_x = np.meshgrid(ys, xs, indexing='ij')
    grid_y, grid_x = grid_y.reshape(-1), grid_x.reshape(-1)
    # squared distance to the line through (0, 0) and (dy, dx), below one cell
    on_path = (dy * grid_x - dx * grid_y) ** 2 < dy * dy + dx * dx
    cells = np.stack([grid_y[on_path], grid_x[on_path]], axis=1)
    # farthest (Manhattan) first: the destination leads, the source (0, 0) ends
    order = np.argsort(-(np.abs(cells[:, 0]) + np.abs(cells[:, 1])), kind='stable')
    return cells[order]


@functools.lru_cache(maxsize=None)
def _search_paths(radius):
    """Path offsets grouped by length: tuple of ``(D_g, L_g, 2)`` int64 arrays, ``L_g`` ascending."""
    radius = _check_radius(radius)
    reach = np.arange(-radius + 1, radius)
    directions = [(0, dx) for dx in range(1, radius)]
    directions += [(dy, dx) for dy in range(1, radius) for dx in reach if dy * dy + dx * dx < radius * radius]
    paths = [_path_offsets(dy, dx) for dy, dx in directions]
    lengths = sorted({len(p) for p in paths})
    return tuple(np.stack([p for p in paths if len(p) == n]).astype(np.int64) for n in lengths)


@functools.lru_cache(maxsize=None)
def search_directions(radius=TRAIN_RADIUS):
    """``(D, 2)`` int64 tensor of the directions ``(dy, dx)``, in IRN's ``search_dst`` order."""
    return torch.from_numpy(np.concatenate([group[:, 0] for group in _search_paths(radius)]))


@functools.lru_cache(maxsize=8)
def _pair_index_cpu(feature_size, radius):
    radius = _check_radius(radius)
    height, width = _check_size(feature_size, radius)
    margin = radius - 1
    rows = np.arange(height - margin)
    cols = np.arange(margin, width - margin)
    indices_from = (rows[:, None] * width + cols[None, :]).reshape(-1)
    path_indices = []
    for group in _search_paths(radius):
        offsets = group[..., 0] * width + group[..., 1]                    # (D_g, L_g)
        path_indices.append(torch.from_numpy(offsets[..., None] + indices_from))  # (D_g, L_g, S)
    return PairIndex(
        radius=radius,
        feature_size=(height, width),
        directions=search_directions(radius),
        indices_from=torch.from_numpy(indices_from),
        indices_to=torch.cat([p[:, 0] for p in path_indices]),
        path_indices=tuple(path_indices),
    )


@functools.lru_cache(maxsize=8)
def _pair_index_on(feature_size, radius, device):
    index = _pair_index_cpu(feature_size, radius)
    return PairIndex(index.radius, index.feature_size, index.directions.to(device),
                     index.indices_from.to(device), index.indices_to.to(device),
                     tuple(p.to(device) for p in index.path_indices))


def pair_index(feature_size, radius=TRAIN_RADIUS, device: Optional[torch.device] = None) -> PairIndex:
    """Cached :class:`PairIndex` of a ``(h, w)`` grid (on ``device``, CPU by default)."""
    feature_size = tuple(int(s) for s in feature_size)
    device = torch.device('cpu') if device is None else torch.device(device)
    if device.type == 'cpu':
        return _pair_index_cpu(feature_size, radius)
    return _pair_index_on(feature_size, radius, device)


def pair_indices(feature_size, radius=TRAIN_RADIUS):
    """``(indices_from (S,), indices_to (D, S))``: pair ``(indices_from[s], indices_to[d, s])``.

    IRN's ``PathIndex.src_indices`` / ``dst_indices`` (flat indices into ``h * w``).
    """
    index = pair_index(feature_size, radius)
    return index.indices_from, index.indices_to


def path_indices(feature_size, radius=TRAIN_RADIUS):
    """Per path length, the ``(D_g, L_g, S)`` flat indices of every pair's path (IRN's ``path_indices``)."""
    return pair_index(feature_size, radius).path_indices
