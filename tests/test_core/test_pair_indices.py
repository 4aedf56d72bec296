import math

import pytest
import torch

from advcam_mm.core.pair_indices import pair_index, pair_indices, path_indices, search_directions


def brute_directions(radius):
    """Half-plane offsets closer than radius: dy > 0, or dy == 0 and dx > 0."""
    return {(dy, dx) for dy in range(0, radius + 1) for dx in range(-radius, radius + 1)
            if dy * dy + dx * dx < radius * radius and (dy > 0 or dx > 0)}


def brute_path_cells(dy, dx):
    """Cells of the box spanned by (0, 0) and (dy, dx) closer than one cell to the line between them."""
    norm = math.hypot(dy, dx)
    return {(y, x) for y in range(min(0, dy), max(0, dy) + 1) for x in range(min(0, dx), max(0, dx) + 1)
            if abs(dy * x - dx * y) / norm < 1}


def brute_sources(height, width, radius):
    margin = radius - 1
    return [(y, x) for y in range(height - margin) for x in range(margin, width - margin)]


@pytest.mark.parametrize('radius', [2, 3, 5, 10])
def test_directions_are_the_half_plane_within_radius(radius):
    directions = [tuple(d) for d in search_directions(radius).tolist()]
    assert len(directions) == len(set(directions))
    assert set(directions) == brute_directions(radius)
    # no pair is counted twice: the opposite of a direction is never a direction
    assert not {(-dy, -dx) for dy, dx in directions} & set(directions)


def test_direction_counts():
    # IRN's 34 neighbours at the inference radius 5, 152 at the training radius 10
    assert len(search_directions(5)) == 34
    assert len(search_directions(10)) == 152


@pytest.mark.parametrize('size,radius', [((7, 9), 3), ((9, 12), 4), ((12, 15), 5), ((4, 3), 2)])
def test_pairs_match_brute_force_enumeration(size, radius):
    height, width = size
    indices_from, indices_to = pair_indices(size, radius)
    assert indices_from.dtype == indices_to.dtype == torch.int64
    directions = search_directions(radius)
    assert indices_to.shape == (len(directions), len(indices_from))
    pairs = {(int(f), int(t)) for d in range(len(directions))
             for f, t in zip(indices_from.tolist(), indices_to[d].tolist())}
    expected = {(y * width + x, (y + dy) * width + x + dx)
                for y, x in brute_sources(height, width, radius) for dy, dx in brute_directions(radius)}
    assert pairs == expected
    assert len(pairs) == indices_to.numel()  # each pair once
    unordered = {frozenset(p) for p in pairs}
    assert len(unordered) == len(pairs)


@pytest.mark.parametrize('size,radius', [((9, 12), 4), ((12, 15), 5)])
def test_paths_match_brute_force_geometry(size, radius):
    height, width = size
    index = pair_index(size, radius)
    groups = path_indices(size, radius)
    lengths = [g.shape[1] for g in groups]
    assert lengths == sorted(set(lengths))
    assert sum(g.shape[0] for g in groups) == len(index.directions)
    # the first cell of every path is the destination, in direction order
    assert torch.equal(torch.cat([g[:, 0] for g in groups]), index.indices_to)
    src_y, src_x = index.indices_from // width, index.indices_from % width
    d = 0
    for group in groups:
        for paths in group:  # (L, S)
            dy, dx = index.directions[d].tolist()
            offsets_y, offsets_x = paths // width - src_y, paths % width - src_x
            # the same offsets for every source, equal to the brute-force path
            assert torch.equal(offsets_y, offsets_y[:, :1].expand_as(offsets_y))
            assert torch.equal(offsets_x, offsets_x[:, :1].expand_as(offsets_x))
            cells = list(zip(offsets_y[:, 0].tolist(), offsets_x[:, 0].tolist()))
            assert set(cells) == brute_path_cells(dy, dx) and len(cells) == len(set(cells))
            assert cells[0] == (dy, dx) and (0, 0) in cells
            d += 1


def test_pair_index_is_cached_and_consistent():
    first = pair_index((20, 24), 5)
    assert pair_index((20, 24), 5) is first
    assert pair_index([20, 24], 5, device='cpu') is first
    assert pair_indices((20, 24), 5)[0] is first.indices_from
    assert path_indices((20, 24), 5) is first.path_indices
    assert first.feature_size == (20, 24) and first.radius == 5


@pytest.mark.parametrize('size,radius', [((3, 20), 5), ((20, 8), 5), ((10, 10), 1), ((10, 10), 2.5)])
def test_bad_size_or_radius_raises(size, radius):
    with pytest.raises(ValueError, match='radius|feature_size'):
        pair_index(size, radius)
