"""Pure-PyTorch fallback for ``mmcv.ops`` when only ``mmcv-lite`` is installed.

mmseg 1.2.2 imports ``point_sample`` (``models/utils/point_sample.py``,
``utils/mask_classification.py``, ``decode_heads/san_head.py``) and
``sigmoid_focal_loss`` (``losses/focal_loss.py``) from ``mmcv.ops`` at module
level, so ``import mmseg.models`` fails on ``mmcv._ext`` with mmcv-lite.
When, and only when, the compiled extension cannot be imported, a small module
is placed at ``sys.modules['mmcv.ops']`` that provides those two functions in
pure PyTorch and raises a clear ``ModuleNotFoundError`` naming any other op.
With full mmcv installed this module does nothing.
"""
import importlib.util
import sys
import types

import torch
import torch.nn.functional as F

#: The ops this fallback provides; everything else needs full mmcv.
FALLBACK_OPS = ('point_sample', 'sigmoid_focal_loss')


def mmcv_compiled_ops_available() -> bool:
    """True when mmcv's compiled extension (full ``mmcv``) is importable."""
    try:
        return importlib.util.find_spec('mmcv._ext') is not None
    except (ImportError, ValueError):
        return False


def point_sample(input, points, align_corners=False, **kwargs):
    """Sample ``input (N, C, H, W)`` at ``points (N, P, 2)`` in [0, 1] coordinates.

    Same contract as ``mmcv.ops.point_sample``: returns ``(N, C, P)`` (or
    ``(N, C, Hg, Wg)`` for a 4-D point grid), bilinear, zero padding.
    """
    add_dim = points.dim() == 3
    if add_dim:
        points = points.unsqueeze(2)
    output = F.grid_sample(input, 2.0 * points - 1.0, align_corners=align_corners, **kwargs)
    return output.squeeze(3) if add_dim else output


def sigmoid_focal_loss(input, target, gamma=2.0, alpha=0.25, weight=None, reduction='mean'):
    """Sigmoid focal loss with the ``mmcv.ops.sigmoid_focal_loss`` contract.

    ``input (N, K)`` logits, ``target (N,)`` class indices (an index >= K, such
    as an ignored pixel's, counts as negative for every class).
    """
    num_classes = input.size(1)
    one_hot = F.one_hot(target.clamp(0, num_classes), num_classes + 1)[:, :num_classes].type_as(input)
    prob = input.sigmoid()
    pt = (1 - prob) * one_hot + prob * (1 - one_hot)
    focal_weight = (alpha * one_hot + (1 - alpha) * (1 - one_hot)) * pt.pow(gamma)
    loss = F.binary_cross_entropy_with_logits(input, one_hot, reduction='none') * focal_weight
    if weight is not None:
        loss = loss * weight.view(1, -1)
    if reduction == 'mean':
        return loss.sum() / input.size(0)
    if reduction == 'sum':
        return loss.sum()
    return loss


class _MissingOpsModule(types.ModuleType):
    """Module object that answers unknown attributes with a clear error."""

    def __getattr__(self, name):
        if name.startswith('__'):
            raise AttributeError(name)
        # ModuleNotFoundError (an ImportError) so mmseg's own
        # ``try: from mmcv.ops import X / except ModuleNotFoundError`` still works.
        raise ModuleNotFoundError(
            f"mmcv.ops.{name} needs mmcv's compiled ops, but only mmcv-lite is installed. "
            f"advcam_mm provides pure-PyTorch fallbacks for {', '.join(FALLBACK_OPS)} only; "
            "install full mmcv (pip install -e '.[mmcv-full]') to use this op.")


def install_mmcv_ops_fallback() -> bool:
    """Install the fallback ``mmcv.ops`` if compiled ops are absent; return whether it did."""
    if mmcv_compiled_ops_available():
        return False
    existing = sys.modules.get('mmcv.ops')
    if isinstance(existing, _MissingOpsModule):
        return True
    import mmcv
    module = _MissingOpsModule('mmcv.ops', __doc__)
    module.__advcam_fallback__ = True
    module.point_sample = point_sample
    module.sigmoid_focal_loss = sigmoid_focal_loss
    sys.modules['mmcv.ops'] = module
    mmcv.ops = module
    return True


__all__ = ['install_mmcv_ops_fallback', 'mmcv_compiled_ops_available', 'point_sample',
           'sigmoid_focal_loss', 'FALLBACK_OPS']
