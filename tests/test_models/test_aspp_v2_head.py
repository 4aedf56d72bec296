"""ASPPV2Head (DeepLab-v2's ASPP): shapes, sum of dilated branches, init, and the DeepLab configs that use it."""
import copy
import os

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

import advcam_mm  # noqa: F401  (registers the components)
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmengine.structures import PixelData

REPO = os.path.join(os.path.dirname(__file__), '..', '..')
CONFIGS = os.path.join(REPO, 'configs', 'advcam')


def build_head(**kwargs):
    settings = dict(type='ASPPV2Head', in_channels=16, num_classes=5)
    settings.update(kwargs)
    return MODELS.build(settings)


def test_default_branches_are_deeplab_v2_rates(mmseg_scope):
    head = build_head()
    assert head.dilations == (6, 12, 18, 24)
    assert len(head.aspp) == 4
    for rate, conv in zip((6, 12, 18, 24), head.aspp):
        assert isinstance(conv, torch.nn.Conv2d)
        assert conv.kernel_size == (3, 3) and conv.dilation == (rate, rate) and conv.padding == (rate, rate)
        assert conv.in_channels == 16 and conv.out_channels == 5 and conv.bias is not None
    # no classifier conv of the base class, no pooling/bottleneck branches: only the four convs
    assert not hasattr(head, 'conv_seg')
    assert [name for name, _ in head.named_parameters()] == [
        f'aspp.{i}.{p}' for i in range(4) for p in ('weight', 'bias')]


@pytest.mark.parametrize('size', [(9, 11), (3, 3), (40, 33)])
def test_output_is_sum_of_dilated_convolutions(mmseg_scope, size):
    torch.manual_seed(0)
    head = build_head(dilations=(6, 12, 18, 24))
    for conv in head.aspp:  # non-trivial weights so that every branch matters
        torch.nn.init.normal_(conv.weight, std=0.1)
        torch.nn.init.normal_(conv.bias, std=0.1)
    x = torch.randn(2, 16, *size)
    out = head([torch.randn(2, 4, *size), x])  # in_index=-1: the last backbone output
    assert out.shape == (2, 5, *size)
    expected = sum(F.conv2d(x, c.weight, c.bias, padding=r, dilation=r) for c, r in zip(head.aspp, (6, 12, 18, 24)))
    torch.testing.assert_close(out, expected)
    # each branch alone is a dilated conv: zeroing all but one leaves exactly that one
    with torch.no_grad():
        for conv in head.aspp[1:]:
            conv.weight.zero_()
            conv.bias.zero_()
    only_first = F.conv2d(x, head.aspp[0].weight, head.aspp[0].bias, padding=6, dilation=6)
    torch.testing.assert_close(head([x]), only_first)


def test_custom_rates_and_input_index(mmseg_scope):
    head = build_head(dilations=(2, 3), in_index=0)
    x = torch.randn(1, 16, 7, 7)
    out = head([x, torch.randn(1, 3, 7, 7)])
    expected = sum(F.conv2d(x, c.weight, c.bias, padding=r, dilation=r) for c, r in zip(head.aspp, (2, 3)))
    torch.testing.assert_close(out, expected)
    with pytest.raises(ValueError, match='at least one dilation'):
        build_head(dilations=())


def test_init_is_deeplab_v2(mmseg_scope):
    torch.manual_seed(0)
    head = build_head(in_channels=256, num_classes=21)
    head.init_weights()
    weights = torch.cat([c.weight.flatten() for c in head.aspp])
    assert abs(weights.std().item() - 0.01) < 0.0005
    assert abs(weights.mean().item()) < 0.0005
    for conv in head.aspp:
        assert torch.count_nonzero(conv.bias) == 0


def test_loss_and_prediction_through_encoder_decoder(mmseg_scope):
    cfg = Config.fromfile(os.path.join(CONFIGS, 'deeplabv2_r18-w16_600it_embedded.py'))
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.init_cfg = None
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    model.init_weights()
    inputs = torch.randn(2, 3, 64, 64)
    features = model.extract_feat(inputs)
    assert features[-1].shape == (2, 128, 8, 8)  # output stride 8
    samples = []
    for _ in range(2):
        sample = SegDataSample(metainfo=dict(img_shape=(64, 64), ori_shape=(64, 64), pad_shape=(64, 64)))
        sample.gt_sem_seg = PixelData(data=torch.randint(0, 5, (1, 64, 64)))
        samples.append(sample)
    losses = model.loss(inputs, samples)
    loss = sum(v for k, v in losses.items() if 'loss' in k)
    loss.backward()
    assert all(c.weight.grad is not None and c.weight.grad.abs().sum() > 0 for c in model.decode_head.aspp)
    model.eval()
    with torch.no_grad():
        predictions = model.predict(inputs, samples)
    assert predictions[0].pred_sem_seg.data.shape == (1, 64, 64)
    assert predictions[0].seg_logits.data.shape == (5, 64, 64)


def test_voc_deeplab_v2_config_model_and_optimizer(mmseg_scope):
    cfg = Config.fromfile(os.path.join(CONFIGS, 'deeplabv2_voc.py'))
    assert cfg.model.backbone.init_cfg.checkpoint == 'torchvision://resnet101'
    assert cfg.model.backbone.depth == 101 and cfg.model.backbone.dilations == (1, 1, 2, 4)
    assert cfg.model.data_preprocessor.size == (321, 321)
    assert cfg.train_dataloader.batch_size == 10 and cfg.train_cfg.max_iters == 30000
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.init_cfg = None  # no download in tests
    model = MODELS.build(model_cfg)
    assert 'auxiliary_head' not in dict(model.named_children())
    assert model.decode_head.in_channels == 2048 and model.decode_head.out_channels == 21
    with torch.no_grad():
        features = model.eval().extract_feat(torch.randn(1, 3, 33, 33))
    assert features[-1].shape == (1, 2048, 5, 5)  # ceil(33 / 8): output stride 8
    # BatchNorm frozen; SGD lr 2.5e-4, 10x on the head, momentum 0.9, weight decay 5e-4
    assert all(not p.requires_grad for n, p in model.backbone.named_parameters() if '.bn' in n or n.startswith('bn'))
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    lrs = {}
    for group in wrapper.optimizer.param_groups:
        for p in group['params']:
            lrs[id(p)] = group['lr']
        assert group['momentum'] == 0.9 and group['weight_decay'] == 5e-4
    assert {lrs[id(p)] for p in model.decode_head.parameters()} == {2.5e-3}
    assert {lrs[id(p)] for p in model.backbone.parameters() if p.requires_grad} == {2.5e-4}


def test_deeplabv3plus_config_builds_stock_mmseg_model(mmseg_scope):
    """A stock MMSeg segmentor (DepthwiseSeparableASPPHead imports with mmcv-lite) with the same hook."""
    cfg = Config.fromfile(os.path.join(CONFIGS, 'deeplabv3plus_r101-d8_20k_voc12aug.py'))
    v2 = Config.fromfile(os.path.join(CONFIGS, 'deeplabv2_voc.py'))
    assert cfg.custom_hooks == v2.custom_hooks
    assert cfg.train_dataloader.dataset.mask_dir == v2.train_dataloader.dataset.mask_dir
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.pop('pretrained')
    model = MODELS.build(model_cfg)
    assert type(model.decode_head).__name__ == 'DepthwiseSeparableASPPHead'
    assert model.decode_head.num_classes == 21 and model.auxiliary_head.num_classes == 21
