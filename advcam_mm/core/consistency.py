"""CCT's losses and schedules: consistency loss, its ramp-up weight, annealed-bootstrapped CE.

Cross-consistency training (Ouali et al., CVPR 2020; reference code
yassouali/CCT, ``utils/losses.py`` and ``utils/ramps.py``):

* the unsupervised loss (paper Eq. 4) is the mean squared error between the
  softmax of each auxiliary decoder and the (detached) softmax of the main
  decoder, averaged over the auxiliary decoders (:func:`softmax_mse_loss`);
* its weight ramps up from 0 to ``final_weight`` (30 for VOC) with the
  sigmoid schedule ``exp(-5 (1 - t)^2)`` over the first 10 % of training
  (``ramp_up: 0.1``) (:func:`sigmoid_rampup`, :func:`consistency_weight`);
* the supervised loss is cross-entropy or the annealed-bootstrapped CE
  (ab-CE, paper Sec. 3.5): only pixels whose probability of the true class is
  below a threshold that rises from ``1/K`` to 0.9 with the log schedule
  ``1 - exp(-5 t)`` over the first 40 % of training contribute
  (:func:`annealed_threshold`, :func:`annealed_bootstrapped_cross_entropy`).
"""
import math
from typing import Optional

import torch
import torch.nn.functional as F


def sigmoid_rampup(current: float, rampup_length: float) -> float:
    """``exp(-5 (1 - t)^2)`` with ``t = clip(current / rampup_length, 0, 1)``; 1 when the length is 0.

    Laine & Aila's ramp as in CCT's ``ramps.sigmoid_rampup`` (note: ``exp(-5)``,
    not 0, at ``current = 0``).
    """
    if rampup_length <= 0:
        return 1.0
    t = min(max(float(current), 0.0), float(rampup_length)) / float(rampup_length)
    return math.exp(-5.0 * (1.0 - t) ** 2)


def log_rampup(current: float, rampup_length: float) -> float:
    """``1 - exp(-5 t)`` with ``t = clip(current / rampup_length, 0, 1)``; 1 when the length is 0 (CCT's ``log_rampup``)."""
    if rampup_length <= 0:
        return 1.0
    t = min(max(float(current), 0.0), float(rampup_length)) / float(rampup_length)
    return 1.0 - math.exp(-5.0 * t)


def consistency_weight(current_iter: float, rampup_iters: float, final_weight: float = 30.0,
                       rampup_start: float = 0.0) -> float:
    """Weight of the unsupervised loss at ``current_iter`` (CCT's ``consistency_weight``).

    0 before ``rampup_start``, then ``final_weight * sigmoid_rampup(current_iter
    - rampup_start, rampup_iters - rampup_start)``. In CCT ``rampup_iters`` is
    ``ramp_up * epochs * iters_per_epoch`` (10 % of training) and the start 0.
    """
    if current_iter < rampup_start:
        return 0.0
    return float(final_weight) * sigmoid_rampup(current_iter - rampup_start, rampup_iters - rampup_start)


def annealed_threshold(current_iter: float, rampup_iters: float, num_classes: int,
                       end: float = 0.9) -> float:
    """ab-CE's threshold: ``1/K + log_rampup(current_iter, rampup_iters) * (end - 1/K)``.

    CCT's ``abCE_loss.threshold`` with ``start = 1 / num_classes``, ``end =
    0.9`` and ``rampup_iters = 0.4 * epochs * iters_per_epoch``.
    """
    if num_classes < 1:
        raise ValueError(f'annealed_threshold: num_classes must be >= 1, got {num_classes}')
    start = 1.0 / num_classes
    return start + log_rampup(current_iter, rampup_iters) * (end - start)


def annealed_bootstrapped_cross_entropy(logits: torch.Tensor, target: torch.Tensor, threshold: float,
                                        min_kept: int = 1, ignore_index: int = 255,
                                        weight: Optional[torch.Tensor] = None) -> torch.Tensor:
    """ab-CE: mean CE over the labelled pixels whose true-class probability is below ``threshold``.

    As CCT's ``abCE_loss.forward``: with the true-class probabilities sorted
    ascending (hardest first), the threshold used is ``max(threshold,
    sorted_probs[min(min_kept * B, n - 1)])``, so the ``min_kept * B`` hardest
    pixels always count; 0 when no pixel is kept.

    Args:
        logits: ``(B, K, H, W)``; target: ``(B, H, W)`` int64 with ``ignore_index``.
    """
    if logits.dim() != 4 or target.dim() != 3 or logits.shape[0] != target.shape[0] \
            or logits.shape[2:] != target.shape[1:]:
        raise ValueError(f'ab-CE needs logits (B, K, H, W) and target (B, H, W) of the same size, got '
                         f'{tuple(logits.shape)} and {tuple(target.shape)}')
    target = target.long()
    valid = target != ignore_index
    probs = F.softmax(logits, dim=1)
    safe_target = torch.where(valid, target, torch.zeros_like(target))
    true_prob = probs.gather(1, safe_target.unsqueeze(1)).squeeze(1)[valid]
    losses = F.cross_entropy(logits, target, weight=weight, ignore_index=ignore_index, reduction='none')[valid]
    if true_prob.numel() == 0:
        return logits.sum() * 0
    sorted_prob, order = true_prob.detach().sort()
    kept_floor = sorted_prob[min(min_kept * target.shape[0], sorted_prob.numel() - 1)]
    effective = max(float(kept_floor), float(threshold))
    selected = losses[order][sorted_prob < effective]
    if selected.numel() == 0:
        return logits.sum() * 0
    return selected.mean()


def softmax_mse_loss(aux_logits: torch.Tensor, target_probs: torch.Tensor,
                     confidence_threshold: Optional[float] = None) -> torch.Tensor:
    """CCT's unsupervised loss for one auxiliary decoder: ``mean((softmax(aux) - p_main)^2)``.

    ``target_probs`` is the main decoder's softmax (treated as a constant,
    detached here). With ``confidence_threshold`` (CCT's optional
    ``confidence_masking``), only positions whose ``max(p_main)`` exceeds it
    count; 0 when none does. Logits are resized bilinearly (align_corners
    False) when their size differs from the target's.
    """
    if aux_logits.dim() != 4 or target_probs.dim() != 4 or aux_logits.shape[:2] != target_probs.shape[:2]:
        raise ValueError(f'softmax_mse_loss needs (B, K, H, W) logits and probabilities with equal B, K, got '
                         f'{tuple(aux_logits.shape)} and {tuple(target_probs.shape)}')
    if aux_logits.shape[2:] != target_probs.shape[2:]:
        aux_logits = F.interpolate(aux_logits, size=target_probs.shape[2:], mode='bilinear',
                                   align_corners=False)
    target_probs = target_probs.detach()
    squared = (F.softmax(aux_logits, dim=1) - target_probs) ** 2
    if confidence_threshold is None:
        return squared.mean()
    confident = (target_probs.max(dim=1, keepdim=True).values > confidence_threshold).expand_as(squared)
    if not confident.any():
        return aux_logits.sum() * 0
    return squared[confident].mean()
