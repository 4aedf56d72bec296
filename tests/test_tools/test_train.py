"""tools/train.py, tools/test.py and tools/dist_train.sh with a real mmengine Runner on the embedded dataset."""
import glob
import os.path as osp

import pytest
import torch

from conftest import TINY_CLASSIFIER_CONFIG, embedded_data_options, run_tool


def _common_options(data_root, epochs):
    return [*embedded_data_options(data_root), f'train_cfg.max_epochs={epochs}',
            'train_cfg.val_interval=1', 'default_hooks.checkpoint.interval=1',
            f'param_scheduler.0.end={epochs}']


def test_train_checkpoints_resumes_and_evaluates(embedded_voc_root, tmp_path):
    work_dir = str(tmp_path / 'work')
    first = run_tool(['tools/train.py', TINY_CLASSIFIER_CONFIG, '--work-dir', work_dir,
                      '--cfg-options', *_common_options(embedded_voc_root, 1)], num_threads=2)
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
    assert 'cls/mAP' in first.stdout + first.stderr

    # --resume under torch >= 2.6 (weights_only=True) needs the checkpoint allow-list.
    second = run_tool(['tools/train.py', TINY_CLASSIFIER_CONFIG, '--work-dir', work_dir, '--resume',
                       '--cfg-options', *_common_options(embedded_voc_root, 2)], num_threads=2)
    log = second.stdout + second.stderr
    assert 'resumed epoch: 1' in log
    assert 'Epoch(train) [1]' not in log  # it continued instead of starting over
    assert osp.isfile(osp.join(work_dir, 'epoch_2.pth'))

    tested = run_tool(['tools/test.py', TINY_CLASSIFIER_CONFIG, osp.join(work_dir, 'epoch_2.pth'),
                       '--work-dir', str(tmp_path / 'test'), '--cfg-options',
                       *embedded_data_options(embedded_voc_root)], num_threads=2)
    assert 'cls/mAP' in tested.stdout + tested.stderr


def test_unknown_type_error_names_the_config(tmp_path):
    config = tmp_path / 'bad_model.py'
    config.write_text(f"_base_ = ['{TINY_CLASSIFIER_CONFIG}']\nmodel = dict(type='NoSuchClassifier')\n")
    result = run_tool(['tools/train.py', str(config), '--work-dir', str(tmp_path / 'w')], check=False)
    assert result.returncode != 0
    assert str(config) in result.stderr and 'NoSuchClassifier' in result.stderr


def test_missing_data_root_error_names_the_folder(tmp_path):
    missing = str(tmp_path / 'nowhere' / 'VOC2012')
    result = run_tool(['tools/train.py', TINY_CLASSIFIER_CONFIG, '--work-dir', str(tmp_path / 'w'),
                       '--cfg-options', *embedded_data_options(missing)], check=False)
    assert result.returncode != 0
    assert missing in result.stderr


def test_dist_train_two_processes_train_in_step(embedded_voc_root, tmp_path):
    """Two gloo ranks on CPU: parameters equal afterwards, one checkpoint written (by rank 0)."""
    work_dir = str(tmp_path / 'ddp')
    config = tmp_path / 'ddp_config.py'
    config.write_text(f"_base_ = ['{TINY_CLASSIFIER_CONFIG}']\n"
                      "custom_imports = dict(imports=['advcam_mm', 'rank_state_dump'])\n"
                      "custom_hooks = [dict(type='DumpRankParametersHook')]\n")
    result = run_tool(['tools/dist_train.sh', str(config), '2', '--work-dir', work_dir,
                       '--cfg-options', *_common_options(embedded_voc_root, 1)])
    log = result.stdout + result.stderr
    assert 'Distributed training: True' in log
    rank0 = torch.load(osp.join(work_dir, 'rank0_params.pth'), weights_only=True)
    rank1 = torch.load(osp.join(work_dir, 'rank1_params.pth'), weights_only=True)
    initial = torch.load(osp.join(work_dir, 'rank0_initial.pth'), weights_only=True)
    assert rank0.keys() == rank1.keys() == initial.keys()
    for name in rank0:
        torch.testing.assert_close(rank0[name], rank1[name], rtol=0, atol=1e-6, msg=name)
    # ... and they did train: equal weights are not merely the untouched initial ones.
    assert any(not torch.equal(rank0[name], initial[name]) for name in rank0)
    assert len(glob.glob(osp.join(work_dir, 'epoch_*.pth'))) == 1
