import importlib
import sys

import pytest
import torch

import advcam_mm  # noqa: F401
from advcam_mm.compat import mmcv_ops


def test_mmseg_models_import_with_mmcv_lite():
    models = importlib.import_module('mmseg.models')
    assert 'ASPPHead' in models.__dict__ or hasattr(models, 'ASPPHead')
    from mmseg.registry import MODELS
    assert MODELS.get('EncoderDecoder') is not None


@pytest.mark.skipif(mmcv_ops.mmcv_compiled_ops_available(), reason='full mmcv installed')
def test_fallback_installed_only_without_compiled_ops(monkeypatch):
    assert getattr(sys.modules['mmcv.ops'], '__advcam_fallback__', False)
    monkeypatch.setattr(mmcv_ops, 'mmcv_compiled_ops_available', lambda: True)
    assert mmcv_ops.install_mmcv_ops_fallback() is False


@pytest.mark.skipif(mmcv_ops.mmcv_compiled_ops_available(), reason='full mmcv installed')
def test_unknown_op_error_names_the_op():
    import mmcv.ops
    with pytest.raises(ImportError, match='RoIAlign'):
        mmcv.ops.RoIAlign  # noqa: B018
    with pytest.raises(ModuleNotFoundError, match='DeformConv2d'):
        from mmcv.ops import DeformConv2d  # noqa: F401


def test_point_sample_matches_direct_bilinear_lookup():
    torch.manual_seed(0)
    feature = torch.randn(2, 3, 5, 7)
    # Points at pixel centres: (x + 0.5) / W sample exactly pixel x with align_corners=False.
    ys = torch.tensor([0, 2, 4, 1])
    xs = torch.tensor([0, 3, 6, 5])
    points = torch.stack([(xs + 0.5) / 7, (ys + 0.5) / 5], dim=1).expand(2, -1, -1)
    sampled = mmcv_ops.point_sample(feature, points)
    assert sampled.shape == (2, 3, 4)
    torch.testing.assert_close(sampled, feature[:, :, ys, xs])


def test_sigmoid_focal_loss_matches_definition():
    torch.manual_seed(0)
    logits = torch.randn(6, 4)
    target = torch.tensor([0, 3, 1, 4, 2, 0])  # 4 = ignored/background: negative for all
    loss = mmcv_ops.sigmoid_focal_loss(logits, target, gamma=2.0, alpha=0.25, reduction='none')
    expected = torch.zeros_like(logits)
    for i in range(6):
        for k in range(4):
            p = torch.sigmoid(logits[i, k])
            if target[i] == k:
                expected[i, k] = -0.25 * (1 - p) ** 2 * torch.log(p)
            else:
                expected[i, k] = -0.75 * p ** 2 * torch.log(1 - p)
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(mmcv_ops.sigmoid_focal_loss(logits, target, reduction='mean'),
                               expected.sum() / 6)
