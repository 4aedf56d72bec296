"""Inter-pixel relations: affinity labels, boundary-to-affinity, and IRNet's losses.

IRN (Ahn et al., CVPR 2019; ``voc12/dataloader.py`` GetAffinityLabelFromIndices,
``net/resnet50_irn.py`` AffinityDisplacementLoss, ``step/train_irn.py``).  Pairs
come from :mod:`advcam_mm.core.pair_indices`; ``D`` directions, ``S`` sources,
label masks are ``(..., D, S)`` float tensors of 0/1.
"""
from typing import Sequence, Union

import torch

from .pair_indices import PairIndex

# IRN's epsilon inside the logs and in the loss denominators.
EPS = 1e-5


def affinity_labels_from_ir_label(reduced_label, indices_from, indices_to, ignore_index=255):
    """Pair labels from an inter-pixel-relation label map at the feature stride.

    Args:
        reduced_label: ``(h, w)`` or ``(B, h, w)`` integer map, 0 = confident
            background, ``1..K`` = confident class, ``ignore_index`` = unsure
            (IRN: the IR label PNG resized by 1/4 with nearest neighbour).
        indices_from: ``(S,)`` flat source indices.
        indices_to: ``(D, S)`` flat destination indices.
        ignore_index: pairs touching this label get no label.  IRN treats every
            value >= 21 (VOC's class count) as unsure; here only ``ignore_index``.

    Returns:
        ``(bg_pos, fg_pos, neg)``, float32 ``(..., D, S)``: both ends background;
        both ends the same foreground class; ends of different labels.
    """
    label = torch.as_tensor(reduced_label)
    if label.dim() not in (2, 3) or label.dtype.is_floating_point or label.dtype == torch.bool:
        raise ValueError(f'reduced_label must be an integer (h, w) or (B, h, w) map, '
                         f'got {label.dtype} of shape {tuple(label.shape)}')
    indices_from = torch.as_tensor(indices_from, device=label.device)
    indices_to = torch.as_tensor(indices_to, device=label.device)
    num_pixels = label.shape[-2] * label.shape[-1]
    if indices_to.numel() and int(indices_to.max()) >= num_pixels:
        raise ValueError(f'pair indices reach pixel {int(indices_to.max())} but reduced_label of shape '
                         f'{tuple(label.shape)} has {num_pixels}: build them for this feature size')
    flat = label.reshape(*label.shape[:-2], num_pixels).long()
    label_from = flat[..., indices_from].unsqueeze(-2)   # (..., 1, S)
    label_to = flat[..., indices_to]                     # (..., D, S)
    valid = (label_from != ignore_index) & (label_to != ignore_index)
    equal = label_from == label_to
    positive = equal & valid
    bg_pos = positive & (label_from == 0)
    fg_pos = positive & (label_from != 0)
    neg = ~equal & valid
    return bg_pos.float(), fg_pos.float(), neg.float()


def edge_to_affinity(edge, path_indices: Union[PairIndex, Sequence[torch.Tensor]]):
    """Pair affinity ``1 - max(boundary along the path)`` (IRN's ``edge_to_affinity``).

    Args:
        edge: boundary probabilities in [0, 1], ``(h, w)``, ``(B, h, w)`` or ``(B, 1, h, w)``.
        path_indices: a :class:`PairIndex` (its size is checked) or its ``path_indices``.

    Returns:
        ``(B, D, S)`` affinities (``(D, S)`` for an ``(h, w)`` edge), directions
        in :class:`PairIndex` order.
    """
    if edge.dim() == 4 and edge.shape[1] != 1:
        raise ValueError(f'edge must have one channel, got shape {tuple(edge.shape)}')
    if edge.dim() not in (2, 3, 4):
        raise ValueError(f'edge must be (h, w), (B, h, w) or (B, 1, h, w), got shape {tuple(edge.shape)}')
    if isinstance(path_indices, PairIndex):
        if tuple(edge.shape[-2:]) != path_indices.feature_size:
            raise ValueError(f'edge of size {tuple(edge.shape[-2:])} but pair indices built for '
                             f'{path_indices.feature_size}')
        path_indices = path_indices.path_indices
    flat = edge.reshape(1 if edge.dim() == 2 else edge.shape[0], -1)
    affinity = []
    for paths in path_indices:
        paths = paths.to(flat.device)
        on_path = flat.index_select(1, paths.reshape(-1)).view(flat.shape[0], *paths.shape)
        affinity.append(1 - on_path.max(dim=2).values)
    affinity = torch.cat(affinity, dim=1)
    return affinity[0] if edge.dim() == 2 else affinity


def pair_displacement(displacement, indices_from, indices_to):
    """``(B, 2, D, S)`` difference of displacement vectors ``disp[from] - disp[to]`` per pair.

    IRN's ``to_pair_displacement``; ``displacement`` is ``(B, 2, h, w)`` with
    channels ``(dy, dx)`` in feature-grid cells.
    """
    if displacement.dim() != 4 or displacement.shape[1] != 2:
        raise ValueError(f'displacement must be (B, 2, h, w), got shape {tuple(displacement.shape)}')
    flat = displacement.flatten(2)
    indices_from = indices_from.to(flat.device)
    indices_to = indices_to.to(flat.device)
    return flat[:, :, indices_from].unsqueeze(2) - flat[:, :, indices_to]


def _masked_mean(loss, mask, scale=1.0):
    return torch.sum(loss * mask) / (scale * torch.sum(mask) + EPS)


def affinity_loss(affinity, bg_pos, fg_pos, neg):
    """IRN's inter-pixel relation (class boundary) losses, ``(pos_aff_loss, neg_aff_loss)``.

    ``pos = -log(aff + 1e-5)`` averaged over background pairs and over
    foreground pairs separately, then ``(bg + fg) / 2``;
    ``neg = -log(1 + 1e-5 - aff)`` averaged over cross pairs. Means run over the
    whole batch, as in ``step/train_irn.py``.
    """
    pos_aff_loss = -torch.log(affinity + EPS)
    neg_aff_loss = -torch.log(1. + EPS - affinity)
    bg_pos_aff_loss = _masked_mean(pos_aff_loss, bg_pos)
    fg_pos_aff_loss = _masked_mean(pos_aff_loss, fg_pos)
    return bg_pos_aff_loss / 2 + fg_pos_aff_loss / 2, _masked_mean(neg_aff_loss, neg)


def displacement_loss(pair_disp, directions, bg_pos, fg_pos):
    """IRN's displacement-field losses, ``(dp_fg_loss, dp_bg_loss)``.

    A pixel's displacement points to its instance centroid, so for two pixels of
    one foreground object ``disp[from] - disp[to] = to - from = (dy, dx)``
    (L1 to the pair's direction); background pixels should not move (L1 of the
    pair difference). Each is averaged over its pairs and the 2 components.

    Args:
        pair_disp: ``(B, 2, D, S)`` from :func:`pair_displacement`.
        directions: ``(D, 2)`` ``(dy, dx)`` of each direction.
        bg_pos, fg_pos: ``(B, D, S)`` pair masks.
    """
    target = directions.to(pair_disp).t().reshape(1, 2, -1, 1)
    dp_fg_loss = _masked_mean(torch.abs(pair_disp - target), fg_pos.unsqueeze(1), scale=2)
    dp_bg_loss = _masked_mean(torch.abs(pair_disp), bg_pos.unsqueeze(1), scale=2)
    return dp_fg_loss, dp_bg_loss


def inter_pixel_relation_losses(edge_logits, displacement, bg_pos, fg_pos, neg, index: PairIndex):
    """IRNet's four training losses from its two branch outputs.

    Args:
        edge_logits: ``(B, 1, h, w)`` class-boundary logits (sigmoid applied here).
        displacement: ``(B, 2, h, w)`` displacement field.
        bg_pos, fg_pos, neg: ``(B, D, S)`` from :func:`affinity_labels_from_ir_label`.
        index: the :class:`PairIndex` of ``(h, w)`` the labels were built with.

    Returns:
        dict of scalar tensors ``pos_aff``, ``neg_aff``, ``dp_fg``, ``dp_bg``;
        IRN's total is ``(pos_aff + neg_aff) / 2 + (dp_fg + dp_bg) / 2``.
    """
    affinity = edge_to_affinity(torch.sigmoid(edge_logits), index)
    pos_aff, neg_aff = affinity_loss(affinity, bg_pos, fg_pos, neg)
    dp_fg, dp_bg = displacement_loss(
        pair_displacement(displacement, index.indices_from, index.indices_to), index.directions, bg_pos, fg_pos)
    return {'pos_aff': pos_aff, 'neg_aff': neg_aff, 'dp_fg': dp_fg, 'dp_bg': dp_bg}
