"""Balanced cross-entropy: background and foreground pixels averaged separately (DSRG's seeding loss).

AdvCAM's DeepLab-v2 results (68.1 val / 68.0 test) were trained with "balanced
cross entropy loss, similar to DSRG" (the author in jbeomlee93/AdvCAM #9).
DSRG (Huang et al., "Weakly-Supervised Semantic Segmentation Network with Deep
Seeded Region Growing", CVPR 2018, Eq. 2, ``BalancedSeedLossLayer`` in
speedinghzl/DSRG ``pylayers/pylayers.py``) splits the labelled pixels of an
image into background pixels ``S_bg`` and foreground pixels ``S_fg`` (any
foreground class) and averages the negative log-likelihood over each set on
its own, so that a small object weighs as much as the large background::

    l(image) = 1/|S_bg| * sum_{u in S_bg} -log p_u(0)
             + 1/|S_fg| * sum_{u in S_fg} -log p_u(y_u)
    loss     = loss_weight * mean over the images of the batch of l(image)

* ``p_u = softmax(logits_u)`` over all classes (no class is left out).
* Pixels labelled ``ignore_index`` belong to neither set (no term, no count).
* An empty set contributes 0 (DSRG divides its zero sum by max(count, 1e-4)):
  an image with no foreground pixel is scored by its background term only,
  an image with nothing labelled by 0; it still counts in the batch mean,
  as in DSRG's ``T.mean`` over the batch.
* The two terms are added, not averaged (DSRG: ``loss_1 + loss_2``); on an
  image with both sets the value is therefore about twice plain CE's.

Unlike mmseg's ``CrossEntropyLoss`` there is no ``avg_non_ignore`` switch:
each term is already an average over its own, non-ignored pixels.
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS


def balanced_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, background_index: int = 0,
                           ignore_index: int = 255, reduction: str = 'mean') -> torch.Tensor:
    """DSRG's balanced cross-entropy of ``logits (B, C, H, W)`` against ``labels (B, H, W)``.

    Returns the batch mean (``reduction='mean'``), sum (``'sum'``) or the
    per-image values ``(B,)`` (``'none'``) of ``l(image)`` in the module
    docstring.
    """
    if logits.dim() != 4 or labels.dim() != 3 or logits.shape[0] != labels.shape[0] \
            or logits.shape[2:] != labels.shape[1:]:
        raise ValueError(f'balanced_cross_entropy: logits (B, C, H, W) and labels (B, H, W) of the same size '
                         f'expected, got {tuple(logits.shape)} and {tuple(labels.shape)}')
    if reduction not in ('mean', 'sum', 'none'):
        raise ValueError(f"balanced_cross_entropy: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    labels = labels.long()
    valid = labels != ignore_index
    if bool(((labels < 0) | (labels >= logits.shape[1]))[valid].any()):
        raise ValueError(f'balanced_cross_entropy: labels outside 0..{logits.shape[1] - 1} '
                         f'(and not ignore_index {ignore_index})')
    log_probs = F.log_softmax(logits.float(), dim=1)
    nll = -log_probs.gather(1, torch.where(valid, labels, 0).unsqueeze(1)).squeeze(1)
    background = valid & (labels == background_index)
    foreground = valid & (labels != background_index)
    per_image = 0
    for subset in (background, foreground):
        count = subset.sum(dim=(1, 2))
        total = torch.where(subset, nll, 0).sum(dim=(1, 2))
        per_image = per_image + total / count.clamp(min=1)  # count 0 -> total 0 -> term 0
    if reduction == 'none':
        return per_image
    return per_image.sum() if reduction == 'sum' else per_image.mean()


@MODELS.register_module()
class BalancedCrossEntropyLoss(nn.Module):
    """DSRG's balanced cross-entropy as an mmseg decode-head loss (see the module docstring).

    ``loss_decode=dict(type='BalancedCrossEntropyLoss', loss_weight=1.0)``.

    Args:
        background_index (int): the label of the background class (0 in VOC).
        ignore_index (int): label of unlabelled pixels, used when the caller
            (mmseg's decode head passes its own) gives none.
        reduction (str): over the images of a batch: ``'mean'`` (DSRG), ``'sum'`` or ``'none'``.
        loss_weight (float): factor on the loss.
        loss_name (str): key in the loss dict; must start with ``loss_`` to be optimised.
    """

    def __init__(self, background_index: int = 0, ignore_index: int = 255, reduction: str = 'mean',
                 loss_weight: float = 1.0, loss_name: str = 'loss_balanced_ce'):
        super().__init__()
        if reduction not in ('mean', 'sum', 'none'):
            raise ValueError(f"BalancedCrossEntropyLoss: reduction must be 'mean', 'sum' or 'none', "
                             f'got {reduction!r}')
        self.background_index = int(background_index)
        self.ignore_index = int(ignore_index)
        self.reduction = reduction
        self.loss_weight = float(loss_weight)
        self._loss_name = loss_name

    def forward(self, cls_score: torch.Tensor, label: torch.Tensor, weight: Optional[torch.Tensor] = None,
                avg_factor=None, reduction_override: Optional[str] = None, ignore_index: Optional[int] = None,
                **kwargs) -> torch.Tensor:
        if weight is not None or avg_factor is not None:
            raise ValueError('BalancedCrossEntropyLoss takes no pixel weights or avg_factor (it averages each '
                             'set over its own pixels): remove the decode head\'s sampler')
        return self.loss_weight * balanced_cross_entropy(
            cls_score, label, background_index=self.background_index,
            ignore_index=self.ignore_index if ignore_index is None else ignore_index,
            reduction=reduction_override or self.reduction)

    @property
    def loss_name(self) -> str:
        """Key of this loss in the loss dict (mmseg sums keys that start with ``loss_``)."""
        return self._loss_name

    def extra_repr(self) -> str:
        return f'background_index={self.background_index}, reduction={self.reduction}'
