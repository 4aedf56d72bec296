"""The COCO tools on the miniature: make it, convert it, train the COCO classifier config a few iterations."""
import json
import os.path as osp
import re

import numpy as np
import torch

from conftest import REPO_ROOT, run_tool

COCO_CLASSIFIER_CONFIG = osp.join(REPO_ROOT, 'configs', 'advcam', 'cam_r50_5ep_coco14.py')


def test_make_and_convert_from_the_command_line(tmp_path):
    root = str(tmp_path / 'coco2014')
    made = run_tool(['tools/make_coco_miniature.py', '--out', root, '--num-train', '6', '--num-val', '3'])
    assert 'train2014 6, val2014 3 images' in made.stdout
    converted = run_tool(['tools/convert_coco.py', '--data-root', root, '--num-workers', '2'])
    assert re.search(r'train2014 masks: 5/5, [0-9.]+ images/s, ETA', converted.stdout)
    assert 'train2014: 5 images listed (1 without annotations left out), 5 masks written' in converted.stdout
    assert 'val2014: 2 images listed' in converted.stdout
    for split in ('train2014', 'val2014'):
        manifest = json.load(open(osp.join(root, 'SegmentationClass', split, 'stage_manifest.json')))
        assert manifest['stage'] == 'coco_conversion' and manifest['status'] == 'complete'
    again = run_tool(['tools/convert_coco.py', '--data-root', root, '--splits', 'val2014'])
    assert 'val2014: 2 images listed (1 without annotations left out), 0 masks written, 2 already there' \
        in again.stdout


def _tiny_classifier_options(data_root):
    """The COCO classifier config with a narrow ResNet-18 from scratch on 96-pixel crops of the miniature."""
    return [f'{loader}.{key}' for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
            for key in (f'dataset.data_root={data_root}', 'num_workers=0', 'persistent_workers=False')] + [
        'model.in_channels=128', 'model.backbone.depth=18', 'model.backbone.stem_channels=16',
        'model.backbone.base_channels=16', 'model.backbone.init_cfg=None', 'model.backbone.frozen_stages=-1',
        'model.backbone.norm_eval=False', 'model.data_preprocessor.size=(96,96)',
        'train_dataloader.batch_size=8', 'train_dataloader.dataset.pipeline.1.min_long=64',
        'train_dataloader.dataset.pipeline.1.max_long=112', 'train_dataloader.dataset.pipeline.3.crop_size=96',
        'train_cfg.max_epochs=2', 'train_cfg.val_interval=2', 'param_scheduler.0.end=2',
        'default_hooks.checkpoint.interval=2', 'default_hooks.logger.interval=1']


def test_coco_classifier_config_trains_a_few_iterations(coco_miniature_root, tmp_path):
    work_dir = str(tmp_path / 'cam_coco')
    result = run_tool(['tools/train.py', COCO_CLASSIFIER_CONFIG, '--work-dir', work_dir, '--cfg-options',
                       *_tiny_classifier_options(coco_miniature_root)], num_threads=2)
    log = result.stdout + result.stderr
    losses = [float(v) for v in re.findall(r'Epoch\(train\).*? loss: ([0-9.]+)', log)]
    assert len(losses) == 4 and all(np.isfinite(losses))  # 23 labelled images, batch 8: 2 iterations x 2 epochs
    assert re.search(r'Epoch\(val\) \[2\]\[11/11\].*mAP', log)  # val2014's 11 labelled images
    state = torch.load(osp.join(work_dir, 'epoch_2.pth'), map_location='cpu', weights_only=False)['state_dict']
    weight = next(v for k, v in state.items() if k.startswith('classifier') and k.endswith('weight'))
    assert weight.shape[:2] == (80, 128)  # one output per COCO category
