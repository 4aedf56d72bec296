"""PyramidPoolingNeck equals CCT's _PSPModule (models/encoder.py), which upsamples with align_corners=False."""
import copy
import os

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

import advcam_mm  # noqa: F401  (registers the components)
from mmseg.registry import MODELS

CONFIGS = os.path.join(os.path.dirname(__file__), '..', '..', 'configs')


def reference_psp(neck, x):
    """CCT's ``_PSPModule.forward`` written out with plain ops on the neck's weights (eval-mode BN):
    per bin: adaptive average pool, 1x1 conv, BN, ReLU, bilinear upsampling with align_corners=False;
    concatenation with x; 3x3 conv, BN, ReLU."""
    def conv_bn_relu(module, y, padding):
        y = F.conv2d(y, module.conv.weight, None, padding=padding)
        bn = module.bn
        return F.relu(F.batch_norm(y, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps))

    h, w = x.shape[-2:]
    pyramid = [x]
    for stage in neck.stages:
        pooled = F.adaptive_avg_pool2d(x, stage[0].output_size)
        pyramid.append(F.interpolate(conv_bn_relu(stage[1], pooled, 0), size=(h, w), mode='bilinear',
                                     align_corners=False))
    return conv_bn_relu(neck.bottleneck, torch.cat(pyramid, dim=1), 1)


def build_neck(bin_sizes=(1, 2, 3, 6)):
    torch.manual_seed(0)
    neck = MODELS.build(dict(type='PyramidPoolingNeck', in_channels=16, channels=8, bin_sizes=bin_sizes))
    for module in neck.modules():  # non-trivial BN statistics, so the comparison covers them
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
    return neck.eval()


def test_default_neck_is_ccts_psp_module():
    neck = build_neck()
    x = torch.randn(2, 16, 11, 13)  # odd sizes: align_corners matters for bins 2, 3 and 6
    with torch.no_grad():
        out, = neck(x)
        expected = reference_psp(neck, x)
    assert out.shape == (2, 8, 11, 13)
    assert torch.allclose(out, expected, atol=1e-5)
    # the former behaviour (align_corners=True) on the same weights is measurably different
    neck.align_corners = True
    with torch.no_grad():
        old, = neck(x)
    assert (old - expected).abs().max() > 1e-2


def test_cct_config_builds_the_reference_neck(mmseg_scope):
    cfg = Config.fromfile(os.path.join(CONFIGS, 'advcam', 'cct_r50_80ep_voc12aug-semi.py'))
    assert cfg.model.neck.align_corners is False
    assert cfg.model.decode_head.align_corners is True  # CCT's decoders / final resize: align_corners=True
    neck_cfg = copy.deepcopy(cfg.model.neck)
    neck_cfg.update(in_channels=16, channels=8)
    torch.manual_seed(0)
    neck = MODELS.build(neck_cfg).eval()
    x = torch.randn(1, 16, 9, 7)
    with torch.no_grad():
        assert torch.allclose(neck(x)[0], reference_psp(neck, x), atol=1e-5)


@pytest.mark.parametrize('size', [(1, 1), (6, 6)])
def test_sizes_where_corners_do_not_matter(size):
    """Bins of 1x1 or of the feature's own size upsample the same either way (sanity of the reference)."""
    neck = build_neck(bin_sizes=size[:1])
    x = torch.randn(1, 16, *size)
    with torch.no_grad():
        a, = neck(x)
        neck.align_corners = True
        b, = neck(x)
    assert torch.allclose(a, b, atol=1e-6) and torch.allclose(a, reference_psp(neck, x), atol=1e-5)
