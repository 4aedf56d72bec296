import math

import numpy as np
import pytest
import torch

from advcam_mm.core.affinity import (affinity_labels_from_ir_label, affinity_loss, displacement_loss,
                                     edge_to_affinity, inter_pixel_relation_losses, pair_displacement)
from advcam_mm.core.pair_indices import pair_index

from .test_pair_indices import brute_path_cells


def hand_made_seed():
    """6 x 9 IR label: background, class 1 (left blob), class 2 (right blob), an unsure band."""
    label = np.zeros((6, 9), dtype=np.uint8)
    label[1:4, 1:4] = 1
    label[2:5, 5:8] = 2
    label[:, 4] = 255
    label[5, 0] = 255
    return label


def pairs_of(index):
    """(d, s, from (y, x), to (y, x)) of every pair, by a plain loop."""
    width = index.feature_size[1]
    for d in range(len(index.directions)):
        for s in range(len(index.indices_from)):
            f, t = int(index.indices_from[s]), int(index.indices_to[d, s])
            yield d, s, divmod(f, width), divmod(t, width)


def test_affinity_labels_match_a_plain_loop_on_a_hand_made_seed():
    label = hand_made_seed()
    index = pair_index(label.shape, 3)
    bg_pos, fg_pos, neg = affinity_labels_from_ir_label(label, index.indices_from, index.indices_to)
    assert bg_pos.shape == fg_pos.shape == neg.shape == index.indices_to.shape
    assert bg_pos.dtype == torch.float32
    counts = {'bg': 0, 'fg': 0, 'neg': 0}
    for d, s, (fy, fx), (ty, tx) in pairs_of(index):
        a, b = int(label[fy, fx]), int(label[ty, tx])
        expected = {'bg': a == b == 0, 'fg': a == b and 0 < a < 255,
                    'neg': a != b and a != 255 and b != 255}
        got = {'bg': bg_pos[d, s] == 1, 'fg': fg_pos[d, s] == 1, 'neg': neg[d, s] == 1}
        assert got == expected, ((fy, fx), (ty, tx), a, b)
        counts = {k: counts[k] + expected[k] for k in counts}
    assert min(counts.values()) > 0  # every kind of pair occurs in the hand-made seed
    assert ((bg_pos + fg_pos + neg) <= 1).all()


def test_affinity_labels_batched_and_torch_input():
    label = hand_made_seed()
    index = pair_index(label.shape, 3)
    single = affinity_labels_from_ir_label(label, index.indices_from, index.indices_to)
    flipped = np.ascontiguousarray(label[:, ::-1])
    batch = affinity_labels_from_ir_label(torch.from_numpy(np.stack([label, flipped])),
                                          index.indices_from, index.indices_to)
    other = affinity_labels_from_ir_label(flipped, index.indices_from, index.indices_to)
    for one, two, both in zip(single, other, batch):
        assert torch.equal(both[0], one) and torch.equal(both[1], two)


def test_affinity_labels_bad_input():
    index = pair_index((6, 9), 3)
    with pytest.raises(ValueError, match='integer'):
        affinity_labels_from_ir_label(np.zeros((6, 9), np.float32), index.indices_from, index.indices_to)
    with pytest.raises(ValueError, match='feature size'):
        affinity_labels_from_ir_label(np.zeros((5, 9), np.uint8), index.indices_from, index.indices_to)


def test_edge_to_affinity_is_one_minus_max_boundary_on_the_path():
    generator = torch.Generator().manual_seed(0)
    edge = torch.rand(2, 1, 10, 13, generator=generator)
    index = pair_index((10, 13), 4)
    affinity = edge_to_affinity(edge, index)
    assert affinity.shape == (2,) + tuple(index.indices_to.shape)
    for d, s, (fy, fx), _ in pairs_of(index):
        dy, dx = index.directions[d].tolist()
        cells = [(fy + y, fx + x) for y, x in brute_path_cells(dy, dx)]
        for b in range(2):
            expected = 1 - max(float(edge[b, 0, y, x]) for y, x in cells)
            assert affinity[b, d, s].item() == pytest.approx(expected, abs=1e-7)
    # (h, w), (B, h, w) and a bare tuple of path indices give the same numbers
    assert torch.equal(edge_to_affinity(edge[1, 0], index), affinity[1])
    assert torch.equal(edge_to_affinity(edge[:, 0], index.path_indices), affinity)


def test_edge_to_affinity_wall_cuts_crossing_pairs_only():
    edge = torch.zeros(12, 14)
    edge[:, 7] = 1.0
    index = pair_index(edge.shape, 5)
    affinity = edge_to_affinity(edge, index)
    from_x = index.indices_from % 14
    to_x = index.indices_to % 14
    touches_wall = (torch.minimum(from_x, to_x) <= 7) & (torch.maximum(from_x, to_x) >= 7)
    assert torch.equal(affinity, (~touches_wall).float())


def test_edge_to_affinity_size_check():
    with pytest.raises(ValueError, match='built for'):
        edge_to_affinity(torch.zeros(1, 1, 10, 12), pair_index((10, 13), 4))
    with pytest.raises(ValueError, match='one channel'):
        edge_to_affinity(torch.zeros(1, 2, 10, 13), pair_index((10, 13), 4))


def test_pair_displacement_matches_a_plain_loop():
    index = pair_index((8, 11), 3)
    displacement = torch.randn(2, 2, 8, 11, generator=torch.Generator().manual_seed(1))
    pair_disp = pair_displacement(displacement, index.indices_from, index.indices_to)
    assert pair_disp.shape == (2, 2) + tuple(index.indices_to.shape)
    for d, s, (fy, fx), (ty, tx) in pairs_of(index):
        assert torch.equal(pair_disp[:, :, d, s], displacement[:, :, fy, fx] - displacement[:, :, ty, tx])


def test_affinity_loss_known_values():
    label = hand_made_seed()
    index = pair_index(label.shape, 3)
    bg_pos, fg_pos, neg = affinity_labels_from_ir_label(label, index.indices_from, index.indices_to)
    # perfect affinities: 1 on positive pairs, 0 on negative pairs
    perfect = bg_pos + fg_pos
    pos_loss, neg_loss = affinity_loss(perfect, bg_pos, fg_pos, neg)
    assert pos_loss.item() == pytest.approx(0, abs=1e-4) and neg_loss.item() == pytest.approx(0, abs=1e-4)
    # one half everywhere: -log(0.5 + 1e-5) for both terms
    half = torch.full_like(perfect, 0.5)
    pos_loss, neg_loss = affinity_loss(half, bg_pos, fg_pos, neg)
    assert pos_loss.item() == pytest.approx(-math.log(0.5 + 1e-5), rel=1e-5)
    assert neg_loss.item() == pytest.approx(-math.log(0.5 + 1e-5), rel=1e-5)
    # background and foreground pairs weigh one half each, whatever their counts
    mixed = torch.where(bg_pos > 0, torch.ones_like(half), half)
    pos_loss, _ = affinity_loss(mixed, bg_pos, fg_pos, neg)
    assert pos_loss.item() == pytest.approx((-math.log(1 + 1e-5) - math.log(0.5 + 1e-5)) / 2, rel=1e-4)


def test_displacement_loss_known_values():
    height, width = 10, 12
    label = np.zeros((height, width), np.uint8)
    label[2:7, 3:9] = 1  # one object
    index = pair_index((height, width), 4)
    bg_pos, fg_pos, neg = (m[None] for m in
                           affinity_labels_from_ir_label(label, index.indices_from, index.indices_to))
    ys, xs = torch.meshgrid(torch.arange(height).float(), torch.arange(width).float(), indexing='ij')
    centroid = (4.0, 5.5)
    # every object pixel points at the centroid, background pixels do not move
    inside = torch.from_numpy(label > 0)
    perfect = torch.stack([torch.where(inside, centroid[0] - ys, torch.zeros_like(ys)),
                           torch.where(inside, centroid[1] - xs, torch.zeros_like(xs))])[None]
    pair_disp = pair_displacement(perfect, index.indices_from, index.indices_to)
    dp_fg, dp_bg = displacement_loss(pair_disp, index.directions, bg_pos, fg_pos)
    assert dp_fg.item() == pytest.approx(0, abs=1e-6) and dp_bg.item() == pytest.approx(0, abs=1e-6)
    # zero displacement: the foreground loss is the mean |dy| + |dx| over object pairs, halved
    zero = torch.zeros(1, 2, height, width)
    dp_fg, dp_bg = displacement_loss(pair_displacement(zero, index.indices_from, index.indices_to),
                                     index.directions, bg_pos, fg_pos)
    manhattan = index.directions.abs().sum(1).float()[None, :, None]
    expected = (fg_pos * manhattan).sum() / (2 * fg_pos.sum())
    assert dp_fg.item() == pytest.approx(expected.item(), rel=1e-5) and dp_bg.item() == 0


def test_inter_pixel_relation_losses_descend():
    """Fitting free boundary logits and displacements to a seed lowers IRN's total loss."""
    label = np.zeros((2, 24, 24), np.uint8)
    label[0, 4:14, 5:15] = 1
    label[1, 10:20, 2:12] = 2
    label[1, :, 20:] = 255
    index = pair_index((24, 24), 10)
    bg_pos, fg_pos, neg = affinity_labels_from_ir_label(label, index.indices_from, index.indices_to)
    edge_logits = torch.zeros(2, 1, 24, 24, requires_grad=True)
    displacement = torch.zeros(2, 2, 24, 24, requires_grad=True)
    optimizer = torch.optim.Adam([edge_logits, displacement], lr=0.1)

    def total():
        losses = inter_pixel_relation_losses(edge_logits, displacement, bg_pos, fg_pos, neg, index)
        assert set(losses) == {'pos_aff', 'neg_aff', 'dp_fg', 'dp_bg'}
        return (losses['pos_aff'] + losses['neg_aff']) / 2 + (losses['dp_fg'] + losses['dp_bg']) / 2

    history = []
    for _ in range(30):
        loss = total()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append(loss.item())
    assert np.isfinite(history).all()
    assert history[-1] < 0.6 * history[0]
