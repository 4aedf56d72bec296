import numpy as np
import pytest
import torch

from advcam_mm.core.random_walk import (boundary_affinity_graph, propagate_to_boundary, random_walk,
                                        refine_with_random_walk, transition_matrix_from_affinity)

from .test_pair_indices import brute_directions, brute_path_cells


def random_boundary(height, width, seed=0):
    return torch.rand(height, width, generator=torch.Generator().manual_seed(seed)) ** 3


def wall_boundary(height, width, column):
    boundary = torch.zeros(height, width)
    boundary[:, column] = 1.0
    return boundary


def reference_walk(maps, boundary, radius=5, beta=10, exp_times=8):
    """IRN's dense formulation in float64: x (1 - edge) @ T ** 2 ** exp_times, T = A / colsum(A)."""
    height, width = boundary.shape
    boundary = boundary.double()
    affinity = torch.eye(height * width, dtype=torch.float64)
    for y in range(height):
        for x in range(width):
            for dy, dx in brute_directions(radius):
                if 0 <= y + dy < height and 0 <= x + dx < width:
                    value = 1 - max(boundary[y + yy, x + xx] for yy, xx in brute_path_cells(dy, dx))
                    affinity[y * width + x, (y + dy) * width + x + dx] = value
                    affinity[(y + dy) * width + x + dx, y * width + x] = value
    scaled = affinity ** beta
    transition = scaled / scaled.sum(0, keepdim=True)
    values = (maps.double() * (1 - boundary)).reshape(len(maps), -1)
    return (values @ torch.linalg.matrix_power(transition, 2 ** exp_times)).reshape(maps.shape)


@pytest.mark.parametrize('size,radius', [((6, 9), 3), ((5, 4), 5), ((9, 11), 5)])
def test_graph_has_every_pair_within_radius_once(size, radius):
    height, width = size
    boundary = random_boundary(height, width)
    affinity, indices_from, indices_to = boundary_affinity_graph(boundary, radius)
    got = {}
    for value, f, t in zip(affinity.tolist(), indices_from.tolist(), indices_to.tolist()):
        key = frozenset((f, t))
        assert len(key) == 2 and key not in got
        got[key] = value
    expected = {}
    for y in range(height):
        for x in range(width):
            for dy, dx in brute_directions(radius):
                if 0 <= y + dy < height and 0 <= x + dx < width:
                    path_max = max(float(boundary[y + yy, x + xx]) for yy, xx in brute_path_cells(dy, dx))
                    expected[frozenset((y * width + x, (y + dy) * width + x + dx))] = 1 - path_max
    assert got.keys() == expected.keys()
    assert all(got[k] == pytest.approx(expected[k], abs=1e-7) for k in got)


def test_transition_matrix_sparse_equals_dense_and_is_row_stochastic():
    boundary = random_boundary(7, 8, seed=1)
    graph = boundary_affinity_graph(boundary, 3)
    sparse = transition_matrix_from_affinity(*graph, num_nodes=56, beta=10)
    dense = transition_matrix_from_affinity(*graph, num_nodes=56, beta=10, sparse=False)
    assert sparse.layout == torch.sparse_csr and dense.layout == torch.strided
    assert torch.allclose(sparse.to_dense(), dense, atol=1e-7)
    assert torch.allclose(dense.sum(1), torch.ones(56), atol=1e-6)
    # straightforward: A = I + sym(a ** beta), P = A / rowsum(A)
    affinity, f, t = graph
    matrix = torch.eye(56)
    matrix[f, t] = affinity ** 10
    matrix[t, f] = affinity ** 10
    assert torch.allclose(dense, matrix / matrix.sum(1, keepdim=True), atol=1e-7)


def test_random_walk_sparse_equals_dense():
    boundary = random_boundary(9, 10, seed=2)
    maps = torch.rand(3, 9, 10, generator=torch.Generator().manual_seed(3))
    graph = boundary_affinity_graph(boundary, 5)
    sparse = random_walk(maps, transition_matrix_from_affinity(*graph, 90))
    dense = random_walk(maps, transition_matrix_from_affinity(*graph, 90, sparse=False))
    assert sparse.shape == maps.shape
    assert torch.allclose(sparse, dense, rtol=1e-4, atol=1e-6)
    # flat (C, N) input works too
    assert torch.allclose(random_walk(maps.reshape(3, -1), transition_matrix_from_affinity(*graph, 90)),
                          sparse.reshape(3, -1))


@pytest.mark.parametrize('sparse', [True, False])
def test_propagation_matches_irn_dense_formulation(sparse):
    boundary = random_boundary(8, 11, seed=4)
    maps = torch.rand(2, 8, 11, generator=torch.Generator().manual_seed(5))
    got = propagate_to_boundary(maps, boundary, sparse=sparse)
    expected = reference_walk(maps, boundary)
    assert torch.allclose(got.double(), expected, rtol=1e-3, atol=1e-5)


def test_walk_does_not_cross_a_boundary_wall():
    boundary = wall_boundary(12, 16, column=8)
    maps = torch.zeros(1, 12, 16)
    maps[0, 5, 2] = 1.0  # a seed on the left of the wall
    walked = propagate_to_boundary(maps, boundary)[0]
    assert torch.all(walked[:, 8:] == 0)       # nothing reaches the wall or beyond
    assert torch.all(walked[:, :8] > 0)        # the seed spreads over the whole left side


def test_refine_labels_each_side_of_the_wall():
    height, width = 45, 62  # stride-4 grid 12 x 16
    boundary = wall_boundary(12, 16, column=8)
    cams = torch.zeros(2, 12, 16)
    cams[0, 3:8, 1:4] = 1.0    # class id 2 (key 1) seeded on the left
    cams[1, 4:9, 11:15] = 0.8  # class id 7 (key 6) seeded on the right
    labels = refine_with_random_walk(cams, np.array([1, 6]), boundary, (height, width))
    assert labels.shape == (height, width) and labels.dtype == torch.int64
    assert set(labels.unique().tolist()) <= {0, 2, 7}
    assert torch.all(labels[:, :28] == 2)   # left of the wall (grid columns < 7)
    assert torch.all(labels[:, 36:] == 7)   # right of the wall (grid columns > 8)


def test_refine_background_beyond_the_wall_and_no_classes():
    boundary = wall_boundary(12, 16, column=8)
    cams = torch.zeros(1, 12, 16)
    cams[0, 5, 2] = 1.0
    labels = refine_with_random_walk(cams, [4], boundary, (48, 64))
    assert torch.all(labels[:, 36:] == 0)
    assert (labels == 5).sum() > 0
    empty = refine_with_random_walk(torch.zeros(0, 12, 16), [], boundary, (48, 64))
    assert torch.equal(empty, torch.zeros(48, 64, dtype=torch.int64))


def test_refine_bad_shapes():
    with pytest.raises(ValueError, match='edge of size'):
        refine_with_random_walk(torch.zeros(1, 12, 16), [0], torch.zeros(12, 15), (48, 64))
    with pytest.raises(ValueError, match='len\\(keys\\)'):
        refine_with_random_walk(torch.zeros(2, 12, 16), [0], torch.zeros(12, 16), (48, 64))


def test_transition_memory_is_linear_for_a_500x500_image():
    """125 x 125 stride-4 grid: sparse entries stay at ~69 per node (dense would be 244M)."""
    boundary = random_boundary(125, 125, seed=6)
    graph = boundary_affinity_graph(boundary)
    transition = transition_matrix_from_affinity(*graph, 125 * 125)
    assert transition.values().numel() <= 69 * 125 * 125
    walked = random_walk(torch.rand(2, 125, 125), transition, exp_times=1)
    assert walked.shape == (2, 125, 125) and torch.isfinite(walked).all()
