"""The VOC recipes: the authors' DeepLab-v2 (AdvCAM #9), the paper's text, and CCT's two test protocols (#12).

Each config carries the published values and trains a few iterations on the embedded dataset with a
narrow ResNet-18 (tools/train.py, 1 thread); CCT's checkpoint is then tested single scale and with
multi-scale + flip + CRF (tools/test.py).
"""
import copy
import glob
import json
import os.path as osp
import re

import numpy as np
import pytest
from mmengine.config import Config

from conftest import REPO_ROOT, run_tool

CONFIGS = osp.join(REPO_ROOT, 'configs', 'advcam')
AUTHORS = osp.join(CONFIGS, 'deeplabv2_r101_30k_voc12aug.py')
PAPER_TEXT = osp.join(CONFIGS, 'deeplabv2_r101_20k_voc12aug-papertext.py')
CCT = osp.join(CONFIGS, 'cct_r50_80ep_voc12aug-semi.py')
TINY_RESNET = ['model.backbone.depth=18', 'model.backbone.stem_channels=16', 'model.backbone.base_channels=16',
               'model.backbone.init_cfg=None']  # no ImageNet weights here
ITERS = 2


def loaders(*names):
    return [f'{name}_dataloader.{key}' for name in names
            for key in ('num_workers=0', 'persistent_workers=False')]


def val_subset(data_root, tmp_path, count=4):
    with open(osp.join(data_root, 'ImageSets', 'Segmentation', 'val.txt')) as f:
        ids = [line.strip() for line in f if line.strip()][:count]
    split = tmp_path / 'val_subset.txt'
    split.write_text('\n'.join(ids) + '\n')
    return str(split)


def short_run():
    return [f'train_cfg.max_iters={ITERS}', f'train_cfg.val_interval={ITERS}', f'param_scheduler.0.end={ITERS}',
            f'default_hooks.checkpoint.interval={ITERS}', 'default_hooks.logger.interval=1']


def logged(log, key):
    return [float(v) for v in re.findall(rf'Iter\(train\).*? {key}: ([0-9.]+)', log)]


# --- the published values ------------------------------------------------------------------------
def test_default_deeplab_is_the_authors_recipe():
    authors, default = Config.fromfile(AUTHORS), Config.fromfile(osp.join(CONFIGS, 'deeplabv2_voc.py'))
    assert default.to_dict() == authors.to_dict()
    assert authors.train_cfg.max_iters == 30000 and authors.param_scheduler[0].end == 30000
    assert authors.train_dataloader.batch_size == 10
    assert authors.optim_wrapper.optimizer.lr == 2.5e-4
    assert authors.optim_wrapper.paramwise_cfg.custom_keys == {'decode_head': dict(lr_mult=10.0)}
    assert authors.model.decode_head.loss_decode == dict(type='BalancedCrossEntropyLoss', loss_weight=1.0)
    assert authors.model.backbone.depth == 101
    assert authors.model.backbone.init_cfg.checkpoint == 'torchvision://resnet101'
    rescale = authors.train_dataloader.dataset.pipeline[2]
    assert rescale.type == 'RandomChoice'
    assert [t[0].scale_factor for t in rescale.transforms] == [0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0]
    assert authors.custom_hooks[0].type == 'AdvCAMPseudoLabelHook'


def test_paper_text_recipe_is_deeplabs_defaults():
    paper = Config.fromfile(PAPER_TEXT)
    assert paper.train_cfg.max_iters == 20000 and paper.param_scheduler[0].end == 20000
    assert paper.train_dataloader.batch_size == 10 and paper.optim_wrapper.optimizer.lr == 2.5e-4
    assert paper.model.decode_head.loss_decode.type == 'CrossEntropyLoss'
    assert paper.model.decode_head.loss_decode.avg_non_ignore is True
    assert paper.train_dataloader.dataset.pipeline[2] == dict(type='RandomRescale', scale_range=(0.5, 1.5))
    assert paper.custom_hooks == Config.fromfile(AUTHORS).custom_hooks  # same pseudo masks


def test_authors_rescale_draws_from_the_seven_factors(embedded_voc_root, mmseg_scope):
    """The training pipeline of the authors' recipe rescales each image by one of 0.5, 0.75, ..., 2.0."""
    from mmseg.registry import DATASETS
    cfg = Config.fromfile(AUTHORS)
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    dataset_cfg.update(data_root=embedded_voc_root, mask_dir='SegmentationClassAug',
                       ann_file='ImageSets/Segmentation/train.txt')
    dataset = DATASETS.build(dataset_cfg)
    np.random.seed(0)
    sizes = {dataset[0]['inputs'].shape[-1] for _ in range(60)}  # 128 x factor; crops of 321 keep all of it
    assert sizes <= {64, 96, 128, 160, 192, 224, 256} and len(sizes) >= 5


def test_cct_test_protocols(mmseg_scope):
    from advcam_mm.models.crf_postprocess import DEEPLAB_V2_CRF
    from mmseg.registry import MODELS
    cfg = Config.fromfile(CCT)
    assert cfg.model.test_cfg.crf.enabled is False  # tools/test.py CONFIG CKPT: single scale, no CRF
    assert cfg.img_ratios == [0.5, 0.75, 1.0, 1.25, 1.5]  # CCT's inference.py scales, each with a flip
    # --tta --cfg-options model.test_cfg.crf.enabled=True: CCT's multi-scale inference, then DeepLab's CRF
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.update(depth=18, stem_channels=16, base_channels=16, init_cfg=None)
    model_cfg.neck.update(in_channels=128, channels=32)
    model_cfg.decode_head.in_channels = 32
    model_cfg.perturbations = {}
    model_cfg.test_cfg.crf.enabled = True
    tta = MODELS.build(dict(cfg.tta_model, module=model_cfg))
    assert type(tta).__name__ == 'SegTTAModelWithCRF' and tta.view_average == 'logits'
    assert tta.crf == DEEPLAB_V2_CRF and tta.module.crf is None


# --- a few iterations on the embedded dataset ----------------------------------------------------
@pytest.mark.parametrize('config, loss_key', [(AUTHORS, 'decode.loss_balanced_ce'), (PAPER_TEXT, 'decode.loss_ce')],
                         ids=['authors-30k', 'papertext-20k'])
def test_deeplab_recipe_trains_on_the_embedded_dataset(config, loss_key, embedded_voc_root, tmp_path):
    work_dir = tmp_path / 'work'
    result = run_tool(['tools/train.py', config, '--work-dir', str(work_dir), '--cfg-options',
                       *(f'{name}_dataloader.dataset.data_root={embedded_voc_root}' for name in ('train', 'val')),
                       'train_dataloader.dataset.mask_dir=SegmentationClassAug',  # ground truth, not the hook's
                       f'val_dataloader.dataset.ann_file={val_subset(embedded_voc_root, tmp_path)}',
                       'custom_hooks=[]', *TINY_RESNET, 'model.decode_head.in_channels=128',
                       'train_dataloader.batch_size=2', *loaders('train', 'val'), *short_run()])
    log = result.stdout + result.stderr
    assert len(logged(log, loss_key)) == ITERS and f'Iter(train) [{ITERS}/{ITERS}]' in log
    assert re.search(r'Iter\(val\) \[4/4\].*mIoU', log)
    assert osp.isfile(work_dir / f'iter_{ITERS}.pth')


@pytest.fixture(scope='module')
def cct_checkpoint(embedded_voc_root, tmp_path_factory):
    """CCT's VOC config, tiny encoder, one auxiliary decoder per perturbation, crops of 128, 2 + 2 per batch."""
    tmp_path = tmp_path_factory.mktemp('cct_recipe')
    model = [*TINY_RESNET, 'model.neck.in_channels=128', 'model.neck.channels=32', 'model.decode_head.in_channels=32',
             *(f'model.perturbations.{name}.num=1' for name in ('vat', 'drop', 'cutout', 'context_masking',
                                                                  'object_masking', 'feature_drop', 'feature_noise'))]
    data = [f'train_dataloader.dataset.{part}.{key}' for part in ('labelled', 'weak')
            for key in (f'data_root={embedded_voc_root}', 'pipeline.2.min_long=96', 'pipeline.2.max_long=160',
                        'pipeline.4.crop_size=128')]
    work_dir = tmp_path / 'work'
    result = run_tool(['tools/train.py', CCT, '--work-dir', str(work_dir), '--cfg-options', *model, *data,
                       'train_dataloader.dataset.weak.mask_dir=SegmentationClassAug',
                       'model.data_preprocessor.size=[128,128]',
                       f'val_dataloader.dataset.data_root={embedded_voc_root}',
                       f'val_dataloader.dataset.ann_file={val_subset(embedded_voc_root, tmp_path)}',
                       'train_dataloader.batch_size=4', 'train_dataloader.sampler.labelled_per_batch=2',
                       'train_dataloader.sampler.weak_per_batch=2', *loaders('train', 'val'), *short_run()])
    log = result.stdout + result.stderr
    assert len(logged(log, 'loss_sup')) == ITERS and logged(log, 'loss_unsup') and logged(log, 'loss_weak')
    checkpoint = work_dir / f'iter_{ITERS}.pth'
    assert osp.isfile(checkpoint)
    test_options = [*model, f'test_dataloader.dataset.data_root={embedded_voc_root}',
                    f'test_dataloader.dataset.ann_file={val_subset(embedded_voc_root, tmp_path)}', *loaders('test')]
    return str(checkpoint), test_options


@pytest.mark.parametrize('protocol', [[], ['--tta', 'model.test_cfg.crf.enabled=True']],
                         ids=['single-scale', 'ms-flip-crf'])
def test_cct_checkpoint_tests_in_both_protocols(protocol, cct_checkpoint, tmp_path):
    checkpoint, options = cct_checkpoint
    flags = [p for p in protocol if p.startswith('--')]
    extra = [p for p in protocol if not p.startswith('--')]
    result = run_tool(['tools/test.py', CCT, checkpoint, '--work-dir', str(tmp_path), *flags,
                       '--show-dir', str(tmp_path / 'show'), '--cfg-options', *options, *extra])
    log = result.stdout + result.stderr
    assert re.search(r'Iter\(test\) \[4/4\].*mIoU', log)
    # CCT's config has no visualization hook: tools/test.py adds one and paints every image
    assert len(glob.glob(str(tmp_path / 'show' / 'vis_data' / 'vis_image' / 'test_*.png'))) == 4
    if flags:
        assert "type='SegTTAModelWithCRF'" in log and "view_average='logits'" in log
    metrics = glob.glob(str(tmp_path / '*' / '*.json'))
    with open(metrics[0]) as f:
        assert 0 <= json.load(f)['mIoU'] <= 100
