"""IRNet: frozen backbone, branch shapes, IRN's losses and label reduction, flip-averaged boundary, Runner training."""
import copy
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.structures import PixelData
from PIL import Image

import advcam_mm  # noqa: F401  (registers the components)
from advcam_mm.core import pair_indices
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

REPO = os.path.join(os.path.dirname(__file__), '..', '..')
TINY_CONFIG = os.path.join(REPO, 'configs', 'advcam', 'irnet_r18-w16_100ep_embedded.py')


@pytest.fixture(scope='module')
def tiny_cfg():
    cfg = Config.fromfile(TINY_CONFIG)
    cfg.model.backbone.init_cfg = None  # no classifier checkpoint in tests: random frozen backbone
    return cfg


@pytest.fixture
def tiny_model(tiny_cfg, mmseg_scope):
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(tiny_cfg.model))
    model.init_weights()
    return model


def samples_with_labels(labels):
    samples = []
    for label in labels:
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=torch.as_tensor(label)[None].long())
        sample.set_metainfo(dict(img_shape=tuple(label.shape)))
        samples.append(sample)
    return samples


def ir_label(size, seed):
    """A random blocky IR label: background, classes 1 and 3, unsure (255)."""
    rng = np.random.default_rng(seed)
    cells = rng.choice([0, 0, 1, 3, 255], size=(size // 16, size // 16))
    return np.kron(cells, np.ones((16, 16), np.int64)).astype(np.uint8)


def test_outputs_at_stride_4_for_any_size(tiny_model):
    for height, width in ((64, 64), (61, 83), (97, 40)):
        edge, displacement = tiny_model(torch.randn(2, 3, height, width), mode='tensor')
        size = (-(-height // 4), -(-width // 4))
        assert edge.shape == (2, 1) + size and displacement.shape == (2, 2) + size


def test_backbone_frozen_in_eval_and_detached(tiny_model):
    tiny_model.train()
    assert not tiny_model.backbone.training
    assert all(not m.training for m in tiny_model.backbone.modules())
    assert tiny_model.edge_branch.training and tiny_model.displacement_branch.training
    assert not any(p.requires_grad for p in tiny_model.backbone.parameters())
    before = copy.deepcopy(tiny_model.backbone.state_dict())
    labels = [ir_label(96, 0), ir_label(96, 1)]
    losses = tiny_model(torch.randn(2, 3, 96, 96), samples_with_labels(labels), mode='loss')
    sum(losses.values()).backward()
    assert all(p.grad is None for p in tiny_model.backbone.parameters())
    assert all(p.grad is not None for p in tiny_model.edge_branch.parameters())
    assert all(p.grad is not None for p in tiny_model.displacement_branch.parameters())
    after = tiny_model.backbone.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # BN statistics did not move


def test_label_reduction_is_irn_pil_nearest(tiny_model):
    label = np.random.default_rng(3).choice([0, 2, 255], size=(64, 64)).astype(np.uint8)
    reduced = tiny_model.reduce_ir_label(samples_with_labels([label]), (16, 16))
    irn = np.asarray(Image.fromarray(label).resize((16, 16), Image.NEAREST))
    np.testing.assert_array_equal(reduced[0].numpy(), irn)


def irn_reference_total_loss(edge_logits, displacement, label, radius):
    """IRN's train_irn.py total loss, written after its code: per-pair labels by loops over the
    search directions, the displacement pairs by slicing (``to_pair_displacement``)."""
    label = torch.as_tensor(label)
    height, width = label.shape
    margin = radius - 1
    index = pair_indices.pair_index((height, width), radius)
    directions = index.directions.tolist()
    crop_h, crop_w = height - margin, width - 2 * margin
    src = label[:crop_h, margin:margin + crop_w]
    bg_pos, fg_pos, neg = [], [], []
    for dy, dx in directions:
        dst = label[dy:dy + crop_h, margin + dx:margin + dx + crop_w]
        valid = (src != 255) & (dst != 255)
        bg_pos.append(((src == dst) & valid & (src == 0)).reshape(-1))
        fg_pos.append(((src == dst) & valid & (src != 0)).reshape(-1))
        neg.append(((src != dst) & valid).reshape(-1))
    bg_pos, fg_pos, neg = (torch.stack(m).float()[None] for m in (bg_pos, fg_pos, neg))
    boundary = torch.sigmoid(edge_logits).reshape(1, -1)
    affinity = []
    for paths in index.path_indices:  # (D_g, L_g, S): max over each path
        on_path = boundary[:, paths.reshape(-1)].reshape(1, *paths.shape)
        affinity.append(1 - on_path.max(dim=2).values)
    affinity = torch.cat(affinity, 1)
    pos_loss = -torch.log(affinity + 1e-5)
    neg_loss = -torch.log(1. + 1e-5 - affinity)
    pos = (torch.sum(bg_pos * pos_loss) / (torch.sum(bg_pos) + 1e-5) / 2
           + torch.sum(fg_pos * pos_loss) / (torch.sum(fg_pos) + 1e-5) / 2)
    negative = torch.sum(neg * neg_loss) / (torch.sum(neg) + 1e-5)
    disp_src = displacement[:, :, :crop_h, margin:margin + crop_w]
    disp_dst = torch.stack([displacement[:, :, dy:dy + crop_h, margin + dx:margin + dx + crop_w]
                            for dy, dx in directions], 2)
    pair_disp = (disp_src.unsqueeze(2) - disp_dst).flatten(3)
    target = torch.tensor(directions, dtype=torch.float32).t().reshape(1, 2, -1, 1)
    dp_fg = torch.sum(torch.abs(pair_disp - target) * fg_pos.unsqueeze(1)) / (2 * torch.sum(fg_pos) + 1e-5)
    dp_bg = torch.sum(torch.abs(pair_disp) * bg_pos.unsqueeze(1)) / (2 * torch.sum(bg_pos) + 1e-5)
    return (pos + negative) / 2 + (dp_fg + dp_bg) / 2


def test_loss_is_irn_total_and_pair_index_is_cached(tiny_model):
    tiny_model.eval()  # the same outputs in both calls below
    image = torch.randn(1, 3, 96, 96)
    label = ir_label(96, 5)
    losses = tiny_model(image, samples_with_labels([label]), mode='loss')
    assert set(losses) == {'loss_pos_aff', 'loss_neg_aff', 'loss_dp_fg', 'loss_dp_bg'}
    edge_logits, displacement = tiny_model(image, mode='tensor')
    reduced = np.asarray(Image.fromarray(label).resize((24, 24), Image.NEAREST))
    reference = irn_reference_total_loss(edge_logits[0, 0], displacement, reduced, tiny_model.radius)
    torch.testing.assert_close(sum(losses.values()), reference, rtol=1e-5, atol=1e-6)
    # the pair index of this size is built once, then served from the cache
    misses = pair_indices._pair_index_cpu.cache_info().misses
    tiny_model(image, samples_with_labels([label]), mode='loss')
    assert pair_indices._pair_index_cpu.cache_info().misses == misses


def test_predict_averages_the_flipped_boundary(tiny_model):
    tiny_model.eval()
    image = torch.randn(3, 50, 70)
    boundary, displacement = tiny_model.boundary_and_displacement(image)
    assert boundary.shape == (13, 18) and displacement.shape == (2, 13, 18)
    pad = tiny_model.test_pad_size
    padded = F.pad(torch.stack([image, image.flip(-1)]), (0, pad - 70, 0, pad - 50))
    edge_logits, disp = tiny_model(padded, mode='tensor')
    expected = torch.sigmoid(edge_logits[0, 0, :13, :18] / 2 + edge_logits[1, 0, :13, :18].flip(-1) / 2)
    torch.testing.assert_close(boundary, expected)
    torch.testing.assert_close(displacement, disp[0, :, :13, :18])
    assert 0 <= boundary.min() and boundary.max() <= 1
    # predict mode: each image cropped to its img_shape, results as PixelData fields
    batch = F.pad(image, (0, 10, 0, 6))[None]
    sample = SegDataSample()
    sample.set_metainfo(dict(img_shape=(50, 70)))
    predicted = tiny_model(batch, [sample], mode='predict')[0]
    torch.testing.assert_close(predicted.pred_boundary.data[0], boundary)
    torch.testing.assert_close(predicted.pred_displacement.data, displacement)


def test_bad_backbone_or_channels_are_named(tiny_cfg, mmseg_scope):
    cfg = copy.deepcopy(tiny_cfg.model)
    cfg.in_channels = (16, 16, 32, 64, 256)
    model = MODELS.build(cfg)
    with pytest.raises(ValueError, match=r'level 4 has 128 channels.*in_channels\[4\] = 256'):
        model(torch.randn(1, 3, 64, 64), mode='tensor')
    cfg = copy.deepcopy(tiny_cfg.model)
    cfg.backbone = dict(type='MobileNetV2')
    with pytest.raises(TypeError, match='mmseg-style ResNet'):
        MODELS.build(cfg)(torch.randn(1, 3, 64, 64), mode='tensor')
    with pytest.raises(ValueError, match='multiples of 8'):
        MODELS.build(dict(copy.deepcopy(tiny_cfg.model), edge_channels=12))


class LossRecorder(Hook):
    """Records the loss of every iteration and the backbone as training starts (after weight init)."""

    def __init__(self):
        self.losses = []
        self.backbone_at_start = None

    def before_train(self, runner):
        self.backbone_at_start = copy.deepcopy(runner.model.backbone.state_dict())

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.losses.append(float(outputs['loss']))


def test_runner_trains_on_a_fixed_batch_and_loss_decreases(tiny_cfg, embedded_voc_root, tmp_path):
    from mmengine.runner import Runner
    cfg = copy.deepcopy(tiny_cfg)
    iterations = 20
    ids = tmp_path / 'fixed_batch.txt'  # the same two images in every batch, listed for every iteration
    ids.write_text('train_0000\ntrain_0001\n' * iterations)  # (no loader restart: mmengine sleeps 2 s there)
    cfg.train_dataloader.batch_size = 2
    cfg.train_dataloader.sampler = dict(type='DefaultSampler', shuffle=False)
    # ground-truth masks (with their 255 border) stand in for IR labels; no random augmentation
    cfg.train_dataloader.dataset.update(
        data_root=embedded_voc_root, ann_file=str(ids), mask_dir='SegmentationClassAug',
        pipeline=[dict(type='LoadImageWithCheck'), dict(type='LoadVOCAnnotations'),
                  dict(type='PackSegInputs')])
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iterations)
    # IRN's optimizer (the VOC schedule: lr 0.1 / 1.0, momentum 1e-4): steady on a fixed batch
    cfg.optim_wrapper = Config.fromfile(os.path.join(REPO, 'configs', 'advcam', 'irnet_r50_3ep_voc12aug.py')).optim_wrapper
    cfg.param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False, begin=0, end=iterations)]
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=iterations)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=100)
    cfg.log_processor = dict(by_epoch=False)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.randomness = dict(seed=0)
    recorder = LossRecorder()
    runner = Runner.from_cfg(cfg)
    runner.register_hook(recorder)
    runner.train()
    assert len(recorder.losses) == iterations
    assert np.mean(recorder.losses[-3:]) < 0.9 * np.mean(recorder.losses[:3]), recorder.losses
    assert os.path.isfile(os.path.join(cfg.work_dir, f'iter_{iterations}.pth'))
    backbone_after = runner.model.backbone.state_dict()
    before = recorder.backbone_at_start
    assert all(torch.equal(before[k], backbone_after[k]) for k in before)


def test_voc_config_holds_irn_defaults():
    cfg = Config.fromfile(os.path.join(REPO, 'configs', 'advcam', 'irnet_r50_3ep_voc12aug.py'))
    assert cfg.model.type == 'IRNet' and cfg.model.backbone.depth == 50 and cfg.model.radius == 10
    assert cfg.model.backbone.init_cfg.checkpoint == 'torchvision://resnet50'
    assert cfg.model.in_channels == (64, 256, 512, 1024, 2048)
    loader = cfg.train_dataloader
    assert loader.batch_size == 32 and loader.drop_last and loader.dataset.type == 'VOCSegmentationDataset'
    assert loader.dataset.ann_file.endswith('train_aug.txt')
    steps = {t['type']: t for t in loader.dataset.pipeline}
    assert steps['RandomRescale']['scale_range'] == (0.5, 1.5) and steps['RandomCropPad']['crop_size'] == 512
    assert cfg.train_cfg.max_epochs == 3
    optimizer = cfg.optim_wrapper.optimizer
    assert (optimizer.lr, optimizer.momentum, optimizer.weight_decay) == (0.1, 1e-4, 1e-4)
    assert cfg.optim_wrapper.paramwise_cfg.custom_keys == {'displacement_branch': {'lr_mult': 10.0}}
    assert cfg.param_scheduler[0]['type'] == 'PolyLR' and cfg.param_scheduler[0]['power'] == 0.9
