"""CCT on the embedded dataset (60 labelled + 100 pseudo-labelled images) via tools/train.py and tools/dist_train.sh."""
import glob
import json
import os.path as osp
import re
import subprocess

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import REPO_ROOT, free_port, independent_miou, options_dict, run_tool, tool_env

CCT_CONFIG = osp.join(REPO_ROOT, 'configs', 'advcam', 'cct_r18-w16_600it_embedded-semi.py')


@pytest.fixture(scope='module')
def pseudo_label_dir(embedded_voc_root, tmp_path_factory):
    """A fake pseudo-label folder: ground truth of train_aug shifted by 4 pixels, 3 % of pixels flipped to background."""
    folder = tmp_path_factory.mktemp('pseudo_labels')
    rng = np.random.default_rng(0)
    for line in open(osp.join(embedded_voc_root, 'ImageSets', 'Segmentation', 'train_aug.txt')):
        image_id = line.strip()
        mask = np.array(Image.open(osp.join(embedded_voc_root, 'SegmentationClassAug', image_id + '.png')))
        mask = np.roll(mask, 4, axis=1)
        mask[rng.random(mask.shape) < 0.03] = 0
        Image.fromarray(mask).save(folder / f'{image_id}.png')
    return str(folder)


def _options(data_root, pseudo, iters):
    return [f'train_dataloader.dataset.labelled.data_root={data_root}',
            f'train_dataloader.dataset.weak.data_root={data_root}',
            f'train_dataloader.dataset.weak.mask_dir={pseudo}',
            f'val_dataloader.dataset.data_root={data_root}',
            f'test_dataloader.dataset.data_root={data_root}',
            'model.backbone.init_cfg=None',  # from scratch: no classifier checkpoint here, so BatchNorm trains
            'model.backbone.norm_eval=False', 'model.backbone.norm_cfg.requires_grad=True',
            'model.rampup_ratio=0.1',  # CCT's ramp (the embedded config ramps over the whole run)
            'randomness.seed=0',  # the same initial weights and batches in every run
            f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}',
            f'default_hooks.checkpoint.interval={iters}', f'param_scheduler.0.end={iters}']


def _logged(log, key):
    return [float(v) for v in re.findall(rf'Iter\(train\).*? {key}: ([0-9.]+)', log)]


def test_train_single_process_decreases_the_loss_and_evaluates(embedded_voc_root, pseudo_label_dir, tmp_path):
    work_dir = str(tmp_path / 'cct')
    result = run_tool(['tools/train.py', CCT_CONFIG, '--work-dir', work_dir, '--cfg-options',
                       *_options(embedded_voc_root, pseudo_label_dir, 24), 'default_hooks.logger.interval=2'],
                      num_threads=2)
    log = result.stdout + result.stderr
    sup, unsup_weight = _logged(log, 'loss_sup'), _logged(log, 'unsup_weight')
    assert len(sup) == 12 and _logged(log, 'loss_unsup') and _logged(log, 'loss_weak')
    assert np.mean(sup[-3:]) < 0.8 * np.mean(sup[:3]), sup  # seed 0: 1.48 -> 0.82
    # ramp over 10 % of 24 iterations: below 30 on the first logged iteration, 30 after
    assert unsup_weight[0] < 30 and unsup_weight[-1] == pytest.approx(30.0)
    assert re.findall(r'mIoU: ([0-9.]+)', log)  # validated at the end
    assert osp.isfile(osp.join(work_dir, 'iter_24.pth'))

    # tools/test.py with --out: the reported mIoU is the IoU of the written predictions, computed here
    from advcam_mm.stages import testing
    predictions = str(tmp_path / 'predictions')
    metrics = testing.run(CCT_CONFIG, osp.join(work_dir, 'iter_24.pth'), str(tmp_path / 'test'), out=predictions,
                          cfg_options=options_dict(_options(embedded_voc_root, pseudo_label_dir, 24)))
    assert metrics['mIoU'] == pytest.approx(independent_miou(embedded_voc_root, 'val', predictions, 5), abs=0.006)
    with open(tmp_path / 'test' / 'metrics.json') as f:
        assert json.load(f)['mIoU'] == metrics['mIoU']


def test_dist_train_two_processes_train_in_step(embedded_voc_root, pseudo_label_dir, tmp_path):
    """Two gloo ranks on CPU, each with a 2 labelled + 2 weak batch: parameters equal afterwards."""
    work_dir = str(tmp_path / 'ddp')
    config = tmp_path / 'cct_ddp.py'
    config.write_text(f"_base_ = ['{CCT_CONFIG}']\n"
                      "custom_imports = dict(imports=['advcam_mm', 'rank_state_dump'])\n"
                      "custom_hooks = [dict(type='DumpRankParametersHook')]\n")
    env = tool_env(1)
    env['PORT'] = str(free_port())
    command = ['bash', 'tools/dist_train.sh', str(config), '2', '--work-dir', work_dir, '--cfg-options',
               *_options(embedded_voc_root, pseudo_label_dir, 6), 'train_dataloader.batch_size=4',
               'train_dataloader.sampler.labelled_per_batch=2', 'train_dataloader.sampler.weak_per_batch=2',
               'default_hooks.logger.interval=2']
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-5000:]
    assert 'Distributed training: True' in log
    assert len(_logged(log, 'loss_unsup')) == 3
    rank0 = torch.load(osp.join(work_dir, 'rank0_params.pth'), weights_only=True)
    rank1 = torch.load(osp.join(work_dir, 'rank1_params.pth'), weights_only=True)
    assert rank0.keys() == rank1.keys() and any(k.startswith('aux_decoders.') for k in rank0)
    for name in rank0:
        torch.testing.assert_close(rank0[name], rank1[name], rtol=0, atol=1e-6, msg=name)
    assert glob.glob(osp.join(work_dir, 'iter_6.pth'))
