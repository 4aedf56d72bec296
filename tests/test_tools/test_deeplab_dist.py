"""tools/dist_train.sh with 2 processes (gloo on CPU): the tiny DeepLab-v2 config trains on the pseudo masks its
hook makes in both processes (the same files one process makes); tools/test.py then evaluates it with
multi-scale + flip and the dense CRF, and its mIoU is that of the predictions it writes."""
import glob
import json
import os.path as osp

import numpy as np
import pytest
import torch

from advcam_mm.fileio.label_png import load_label_png
from advcam_mm.fileio.manifest import read_manifest
from advcam_mm.stages import class_maps, pseudo_masks, testing
from conftest import (FAST_ADVCAM, REPO_ROOT, embedded_data_options, independent_miou, options_dict, run_tool,
                      split_file)

DEEPLAB_CONFIG = osp.join(REPO_ROOT, 'configs', 'advcam', 'deeplabv2_r18-w16_600it_embedded.py')
NUM_IMAGES = 12
ITERS = 6


def test_two_process_deeplab_trains_on_hook_labels(trained_tiny_classifier, embedded_voc_root, tmp_path):
    config, checkpoint = trained_tiny_classifier
    split = split_file(embedded_voc_root, 'train', NUM_IMAGES, tmp_path / 'split.txt')
    maps_dir, work_dir = str(tmp_path / 'maps'), tmp_path / 'work'
    class_maps.run(config, checkpoint, maps_dir, split, 'advcam', show_progress=False,
                   cfg_options=options_dict(embedded_data_options(embedded_voc_root) + FAST_ADVCAM))
    data = [*(f'{loader}_dataloader.dataset.data_root={embedded_voc_root}' for loader in ('train', 'val', 'test')),
            f'train_dataloader.dataset.ann_file={split}']
    refiner = ['custom_hooks.0.refiner.type=crf', 'custom_hooks.0.refiner.bg_threshold=0.15']
    # the masks one process makes (tools/make_pseudo_labels.py, the hook without training)
    one_process = str(tmp_path / 'labels_one')
    pseudo_masks.main([DEEPLAB_CONFIG, '--cfg-options', *data, f'train_dataloader.dataset.mask_dir={one_process}',
                       f'custom_hooks.0.maps_dir={maps_dir}', *refiner])

    label_dir = str(tmp_path / 'labels')
    ddp_config = tmp_path / 'deeplab_ddp.py'
    ddp_config.write_text(f"_base_ = ['{DEEPLAB_CONFIG}']\n"
                          "custom_imports = dict(imports=['advcam_mm', 'rank_state_dump'])\n"
                          "custom_hooks = [dict(type='AdvCAMPseudoLabelHook', maps_dir='',\n"
                          "                     refiner=dict(type='crf', bg_threshold=0.15)),\n"
                          "                dict(type='DumpRankParametersHook')]\n")
    options = [*data, f'train_dataloader.dataset.mask_dir={label_dir}', f'custom_hooks.0.maps_dir={maps_dir}',
               'train_dataloader.batch_size=4',
               # a worker per rank reads ahead before the hook runs: the hook must rebuild the dataloader
               'train_dataloader.num_workers=1', 'train_dataloader.persistent_workers=True',
               f'model.backbone.init_cfg.checkpoint={checkpoint}']
    result = run_tool(['tools/dist_train.sh', str(ddp_config), '2', '--work-dir', str(work_dir), '--cfg-options',
                       *options, f'train_cfg.max_iters={ITERS}', f'train_cfg.val_interval={ITERS}',
                       f'param_scheduler.0.end={ITERS}', 'default_hooks.checkpoint.interval=3',
                       'default_hooks.logger.interval=2'])
    log = result.stdout + result.stderr
    assert 'Distributed training: True' in log
    assert f'pseudo masks: making {NUM_IMAGES} of {NUM_IMAGES} masks in {label_dir} (fresh;' in log
    assert '2 process(es)' in log and f'Iter(train) [{ITERS}/{ITERS}]' in log and 'mIoU' in log
    with open(split) as f:
        ids = f.read().split()
    assert sorted(osp.basename(p)[:-4] for p in glob.glob(osp.join(label_dir, '*.png'))) == sorted(ids)
    for image_id in ids:  # two processes wrote the files one does
        np.testing.assert_array_equal(load_label_png(osp.join(label_dir, f'{image_id}.png')),
                                      load_label_png(osp.join(one_process, f'{image_id}.png')))
    manifest = read_manifest(label_dir)
    assert manifest['status'] == 'complete' and manifest['digest'] == read_manifest(one_process)['digest']
    assert manifest['settings'] == dict(type='crf', bg_threshold=0.15, crf={})
    # the ranks trained in step; two checkpoints, saved by rank 0 alone
    rank0, rank1 = (torch.load(str(work_dir / f'rank{r}_params.pth'), weights_only=True) for r in (0, 1))
    for name in rank0:
        torch.testing.assert_close(rank0[name], rank1[name], rtol=0, atol=1e-6, msg=name)
    assert sorted(osp.basename(p) for p in glob.glob(str(work_dir / 'iter_*.pth'))) == ['iter_3.pth', 'iter_6.pth']
    with open(work_dir / 'saved_by_rank0.txt') as f:
        assert len(f.read().splitlines()) == 2
    assert not osp.exists(work_dir / 'saved_by_rank1.txt')
    training = read_manifest(str(work_dir))
    assert training['outputs']['checkpoint'] == 'iter_6.pth' and training['settings']['world_size'] == 2
    assert training['inputs']['masks_0']['manifest'] == manifest['digest']

    # multi-scale + flip + CRF; the reported mIoU is the IoU of the written predictions, computed here
    predictions = str(tmp_path / 'predictions')
    testing.main([DEEPLAB_CONFIG, str(work_dir / f'iter_{ITERS}.pth'), '--tta', '--work-dir', str(tmp_path / 'test'),
                  '--out', predictions, '--cfg-options', *options, *refiner, 'model.test_cfg.crf.enabled=True'])
    with open(tmp_path / 'test' / 'metrics.json') as f:
        metrics = json.load(f)
    assert metrics['mIoU'] == pytest.approx(independent_miou(embedded_voc_root, 'val', predictions, 5), abs=0.006)
    assert read_manifest(str(tmp_path / 'test'))['settings']['test_cfg']['crf']['enabled'] is True
