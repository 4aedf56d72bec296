"""CCTSegmentor (with CCTUpsamplingHead and PyramidPoolingNeck): losses, ramp, gradients, predict."""
import copy
import math
import os

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.structures import PixelData

import advcam_mm  # noqa: F401  (registers the components)
from advcam_mm.core.cct_perturbations import context_masking, object_masking
from advcam_mm.models.cct_segmentor import CCT_PERTURBATIONS
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

REPO = os.path.join(os.path.dirname(__file__), '..', '..')
TINY_CONFIG = os.path.join(REPO, 'configs', 'advcam', 'cct_r18-w16_600it_embedded-semi.py')
VOC_CONFIG = os.path.join(REPO, 'configs', 'advcam', 'cct_r50_80ep_voc12aug-semi.py')
SIZE = 64


@pytest.fixture(scope='module')
def tiny_cfg():
    """The embedded CCT with CCT's own ramp (10 % of the run; the embedded config ramps over all of it)
    and a trainable backbone BatchNorm (the embedded config freezes it at the classifier's statistics)."""
    cfg = Config.fromfile(TINY_CONFIG)
    cfg.model.rampup_ratio = 0.1
    cfg.model.backbone.norm_cfg = dict(type='BN', requires_grad=True)
    cfg.model.backbone.norm_eval = False
    return cfg


def build(cfg, **changes):
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.data_preprocessor['size'] = (SIZE, SIZE)
    model_cfg.backbone.init_cfg = None  # no classifier checkpoint in tests
    for key, value in changes.items():
        model_cfg[key] = value  # replace (ConfigDict.update would merge nested dicts)
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    model.init_weights()
    return model


@pytest.fixture
def hub():
    """A fresh current MessageHub (as the Runner's), removed afterwards."""
    name = 'test_cct_segmentor'
    instance = MessageHub.get_instance(name)
    yield instance
    MessageHub._instance_dict.pop(name, None)


def batch(model, flags, seed=0):
    generator = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for labelled in flags:
        inputs.append(torch.randint(0, 256, (3, SIZE, SIZE), generator=generator, dtype=torch.uint8))
        sample = SegDataSample(metainfo=dict(img_shape=(SIZE, SIZE), pad_shape=(SIZE, SIZE),
                                             ori_shape=(SIZE, SIZE), is_labelled=labelled))
        mask = torch.zeros(1, SIZE, SIZE, dtype=torch.long)
        mask[:, 10:40, 12:50] = int(torch.randint(1, 5, (1, ), generator=generator))
        mask[:, :2] = 255
        sample.gt_sem_seg = PixelData(data=mask)
        samples.append(sample)
    return model.data_preprocessor(dict(inputs=inputs, data_samples=samples), True)


def total(losses):
    return sum(value for key, value in losses.items() if 'loss' in key)


def test_config_builds_cct_published_decoders(tiny_cfg, mmseg_scope):
    voc = Config.fromfile(VOC_CONFIG)
    assert voc.model.perturbations == CCT_PERTURBATIONS
    assert (voc.model.unsup_loss_weight, voc.model.rampup_ratio, voc.model.weak_loss_weight) == (30.0, 0.1, 0.4)
    assert voc.train_cfg.max_iters == 72960 and voc.optim_wrapper.optimizer.lr == 0.01
    assert sum(p['num'] for p in CCT_PERTURBATIONS.values()) == 30
    model = build(tiny_cfg, perturbations=dict(CCT_PERTURBATIONS))
    assert len(model.aux_decoders) == 30
    assert [name for name, _ in model.aux_perturbations][:3] == ['vat', 'vat', 'drop']
    ids = {id(p) for d in model.aux_decoders for p in d.parameters()}
    assert not ids & {id(p) for p in model.decode_head.parameters()}  # own weights


def test_bad_perturbation_config_is_reported(tiny_cfg, mmseg_scope):
    with pytest.raises(ValueError, match='unknown perturbations'):
        build(tiny_cfg, perturbations=dict(gaussian=dict(num=1)))
    with pytest.raises(ValueError, match="'drop' has no options"):
        build(tiny_cfg, perturbations=dict(drop=dict(num=1, erase=0.3)))
    with pytest.raises(ValueError, match='sup_loss'):
        build(tiny_cfg, sup_loss=dict(type='Focal'))


def test_loss_on_a_mixed_batch(tiny_cfg, mmseg_scope, hub):
    model = build(tiny_cfg)
    model.train()
    hub.update_info('iter', 0)
    hub.update_info('max_iters', 100)
    losses = model(**batch(model, [True, True, False, False]), mode='loss')
    assert set(losses) == {'loss_sup', 'acc_seg', 'loss_unsup', 'loss_weak', 'unsup_weight'}
    assert all(torch.isfinite(v) for v in losses.values())
    # iteration 0 of a ramp over 10 iterations: w_u = 30 exp(-5)
    assert losses['unsup_weight'].item() == pytest.approx(30 * math.exp(-5), rel=1e-5)
    total(losses).backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None, name


def test_unsup_weight_follows_the_ramp_from_the_message_hub(tiny_cfg, mmseg_scope, hub):
    model = build(tiny_cfg)
    hub.update_info('max_iters', 200)  # ramp over 20 iterations
    for current, expected in ((0, 30 * math.exp(-5)), (10, 30 * math.exp(-1.25)), (20, 30.0), (150, 30.0)):
        hub.update_info('iter', current)
        assert model.unsup_weight() == pytest.approx(expected)
    model.rampup_iters = 40
    hub.update_info('iter', 20)
    assert model.unsup_weight() == pytest.approx(30 * math.exp(-1.25))


def test_consistency_gradient_reaches_encoder_and_aux_decoders_not_the_main_decoder(tiny_cfg, mmseg_scope):
    model = build(tiny_cfg, weak_loss_weight=0.0)
    model.train()
    losses = model(**batch(model, [False, False]), mode='loss')
    assert set(losses) == {'loss_unsup', 'unsup_weight'}
    losses['loss_unsup'].backward()
    assert all(p.grad is None for p in model.decode_head.parameters())
    assert all(p.grad is not None for p in model.aux_decoders.parameters())
    assert model.backbone.conv1.weight.grad.abs().sum() > 0


def test_labelled_only_batch_is_plain_supervised_training(tiny_cfg, mmseg_scope):
    model = build(tiny_cfg)
    model.train()
    data = batch(model, [True, True])
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_sup', 'acc_seg', 'unsup_weight'}
    for sample in data['data_samples']:  # no flag means labelled
        sample.set_metainfo(dict(is_labelled=True))
    logits = model.decode_head(model.extract_feat(data['inputs']))
    labels = torch.stack([s.gt_sem_seg.data for s in data['data_samples']]).squeeze(1)
    expected = F.cross_entropy(logits, labels, ignore_index=255)  # CCT's CE, mean over labelled pixels
    torch.testing.assert_close(losses['loss_sup'], expected, rtol=1e-5, atol=1e-6)


def test_weak_loss_is_the_ramped_mean_ce_of_the_aux_decoders(tiny_cfg, mmseg_scope, hub):
    """With the deterministic masking perturbations the weak and consistency losses can be recomputed."""
    model = build(tiny_cfg, perturbations=dict(context_masking=dict(num=1), object_masking=dict(num=1)))
    assert [name for name, _ in model.aux_perturbations] == ['context_masking', 'object_masking']
    model.train()
    hub.update_info('iter', 5)
    hub.update_info('max_iters', 100)
    w_u = 30 * math.exp(-5 * 0.25)
    data = batch(model, [True, True, False, False], seed=3)
    losses = model(**data, mode='loss')
    features = model.extract_feat(data['inputs'][2:])[-1]
    main = model.decode_head.decode(features)
    aux = [model.aux_decoders[0].decode(context_masking(features, main)),
           model.aux_decoders[1].decode(object_masking(features, main))]
    labels = torch.stack([s.gt_sem_seg.data for s in data['data_samples'][2:]]).squeeze(1)
    weak = sum(F.cross_entropy(out, labels, ignore_index=255) for out in aux) / 2
    unsup = sum(((F.softmax(out, 1) - F.softmax(main, 1)) ** 2).mean() for out in aux) / 2
    torch.testing.assert_close(losses['loss_weak'], weak * 0.4 * w_u / 30, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(losses['loss_unsup'], unsup * w_u, rtol=1e-4, atol=1e-7)

    on_main = build(tiny_cfg, perturbations=dict(context_masking=dict(num=1)), weak_loss_on='main')
    on_main.train()
    got = on_main(**data, mode='loss')['loss_weak']
    main = on_main.decode_head.decode(on_main.extract_feat(data['inputs'][2:])[-1])
    torch.testing.assert_close(got, F.cross_entropy(main, labels, ignore_index=255) * 0.4 * w_u / 30,
                               rtol=1e-4, atol=1e-6)


def test_ab_ce_supervised_loss(tiny_cfg, mmseg_scope, hub):
    model = build(tiny_cfg, sup_loss=dict(type='abCE'))
    model.train()
    data = batch(model, [True, True, False, False])
    hub.update_info('max_iters', 100)
    hub.update_info('iter', 0)  # threshold 1/K: only pixels the model finds hard
    early = model(**data, mode='loss')['loss_sup']
    hub.update_info('iter', 100)
    late = model(**data, mode='loss')['loss_sup']
    assert torch.isfinite(early) and torch.isfinite(late)
    assert model._sup_threshold() == pytest.approx(0.2 + (1 - math.exp(-5)) * 0.7)


def test_predict_is_the_main_decoder(tiny_cfg, mmseg_scope):
    model = build(tiny_cfg)
    model.eval()
    data = batch(model, [True, False])
    with torch.no_grad():
        results = model(**data, mode='predict')
        logits = model.decode_head(model.extract_feat(data['inputs']))
        tensor = model(data['inputs'], mode='tensor')
    assert len(results) == 2
    for result, expected in zip(results, logits):
        assert result.pred_sem_seg.data.shape == (1, SIZE, SIZE)
        torch.testing.assert_close(result.seg_logits.data, expected)
        assert torch.equal(result.pred_sem_seg.data[0], expected.argmax(0))
    assert tensor.shape == (2, 5, SIZE, SIZE)


def test_head_upsamples_by_pixel_shuffle_with_icnr(mmseg_scope):
    head = MODELS.build(dict(type='CCTUpsamplingHead', in_channels=8, num_classes=3, upscale=4))
    x = torch.rand(2, 8, 5, 7)
    out = head((x, ))
    assert out.shape == (2, 3, 20, 28) and (out >= 0).all()  # CCT's decoders end in a ReLU
    weight = head.upsample[0].conv.weight
    torch.testing.assert_close(weight[0::4], weight[1::4])  # ICNR: sub-pixel kernels start equal
    assert not hasattr(head, 'conv_seg')
    with pytest.raises(ValueError, match='power of 2'):
        MODELS.build(dict(type='CCTUpsamplingHead', in_channels=8, num_classes=3, upscale=6))


def test_head_without_relu_can_raise_a_dead_class(mmseg_scope):
    torch.manual_seed(0)
    x = torch.rand(2, 8, 3, 3)
    for relu in (True, False):
        head = MODELS.build(dict(type='CCTUpsamplingHead', in_channels=8, num_classes=3, upscale=4, relu=relu))
        last = head.upsample[-1].conv
        with torch.no_grad():  # class 0's units of the last step below zero everywhere
            last.bias[0:4] = -100.
        out = head((x, ))
        out[:, 0].sum().backward()
        grad = last.bias.grad[0:4].abs().sum()
        if relu:  # CCT's decoder: the class is dead, no gradient can raise it
            assert (out[:, 0] == 0).all() and grad == 0
        else:
            assert (out[:, 0] < 0).all() and grad > 0
            expected = F.conv2d(x, head.conv_reduce.weight)
            for step in head.upsample:  # without ReLUs: 1x1 convs and pixel shuffles only
                expected = F.pixel_shuffle(F.conv2d(expected, step.conv.weight, step.conv.bias), 2)
            torch.testing.assert_close(head((x, )), expected)


def test_pyramid_pooling_neck(mmseg_scope):
    neck = MODELS.build(dict(type='PyramidPoolingNeck', in_channels=16, channels=8, bin_sizes=(1, 2, 3, 6)))
    out = neck((torch.rand(2, 4, 9, 9), torch.rand(2, 16, 9, 11)))
    assert isinstance(out, tuple) and out[0].shape == (2, 8, 9, 11)
