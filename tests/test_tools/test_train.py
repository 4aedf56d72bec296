"""tools/train.py, tools/test.py and tools/dist_train.sh with a real MMEngine Runner on the embedded dataset."""
import glob
import json
import os.path as osp
import runpy
import signal
import subprocess
import sys
import time

import pytest
import torch

from advcam_mm.fileio.manifest import read_manifest
from advcam_mm.stages.runner import ConfigError
from conftest import REPO_ROOT, TINY_CLASSIFIER_CONFIG, embedded_data_options, run_tool, split_file, tool_env


def _common_options(data_root, epochs, split=None):
    return [*embedded_data_options(data_root), *([f'train_dataloader.dataset.ann_file={split}'] if split else []),
            f'train_cfg.max_epochs={epochs}', f'train_cfg.val_interval={epochs}',
            'default_hooks.checkpoint.interval=1', f'param_scheduler.0.end={epochs}']


def run_tool_in_process(tool, argv, monkeypatch):
    monkeypatch.setattr(sys, 'argv', [tool, *argv])
    runpy.run_path(osp.join(REPO_ROOT, 'tools', tool), run_name='__main__')


def test_killed_training_resumes_from_its_last_checkpoint(embedded_voc_root, tmp_path):
    work_dir = str(tmp_path / 'work')
    split = split_file(embedded_voc_root, 'train_aug', 32, tmp_path / 'train32.txt')
    args = ['tools/train.py', TINY_CLASSIFIER_CONFIG, '--work-dir', work_dir, '--cfg-options',
            *_common_options(embedded_voc_root, 4, split), 'train_dataloader.batch_size=8']
    process = subprocess.Popen([sys.executable, *args], cwd=REPO_ROOT, env=tool_env(1), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.time() + 300  # MMEngine writes last_checkpoint once a checkpoint is complete
    while time.time() < deadline and not osp.isfile(osp.join(work_dir, 'last_checkpoint')):
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    saved = sorted(glob.glob(osp.join(work_dir, 'epoch_*.pth')))
    assert saved and not osp.isfile(osp.join(work_dir, 'epoch_4.pth')), 'the kill should land mid-run'
    assert read_manifest(work_dir)['status'] == 'incomplete'
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        resumed_from = int(osp.basename(f.read().strip())[len('epoch_'):-len('.pth')])

    second = run_tool(args, num_threads=2)  # the same command: the stage resumes (torch >= 2.6: allow-list)
    log = second.stdout + second.stderr
    assert f'resumed epoch: {resumed_from}' in log
    assert f'Epoch(train) [{resumed_from}]' not in log and 'Epoch(train) [4]' in log  # continued, not restarted
    assert 'cls/mAP' in log  # validated at the end
    manifest = read_manifest(work_dir)
    assert manifest['status'] == 'complete' and manifest['outputs']['checkpoint'] == 'epoch_4.pth'

    tested = run_tool(['tools/test.py', TINY_CLASSIFIER_CONFIG, work_dir + '/epoch_4.pth', '--work-dir',
                       str(tmp_path / 'test'), '--cfg-options', *embedded_data_options(embedded_voc_root)],
                      num_threads=2)
    assert 'cls/mAP' in tested.stdout + tested.stderr
    with open(tmp_path / 'test' / 'metrics.json') as f:
        assert 0 < json.load(f)['cls/mAP'] <= 100


def test_unknown_type_error_names_the_config(tmp_path, monkeypatch):
    config = tmp_path / 'bad_model.py'
    config.write_text(f"_base_ = ['{TINY_CLASSIFIER_CONFIG}']\nmodel = dict(type='NoSuchClassifier')\n")
    with pytest.raises(ConfigError, match=f'{config}: .*NoSuchClassifier'):
        run_tool_in_process('train.py', [str(config), '--work-dir', str(tmp_path / 'w')], monkeypatch)


def test_missing_data_root_error_names_the_folder(tmp_path, monkeypatch):
    missing = str(tmp_path / 'nowhere' / 'VOC2012')
    with pytest.raises(FileNotFoundError, match=f'data_root {missing} does not exist'):
        run_tool_in_process('train.py', [TINY_CLASSIFIER_CONFIG, '--work-dir', str(tmp_path / 'w'), '--cfg-options',
                                         *embedded_data_options(missing)], monkeypatch)


def test_dist_train_two_processes_train_in_step(embedded_voc_root, tmp_path):
    """Two gloo ranks on CPU: parameters equal afterwards and trained; only rank 0 saves the checkpoints."""
    work_dir = str(tmp_path / 'ddp')
    config = tmp_path / 'ddp_config.py'
    config.write_text(f"_base_ = ['{TINY_CLASSIFIER_CONFIG}']\n"
                      "custom_imports = dict(imports=['advcam_mm', 'rank_state_dump'])\n"
                      "custom_hooks = [dict(type='DumpRankParametersHook')]\n")
    split = split_file(embedded_voc_root, 'train_aug', 32, tmp_path / 'train32.txt')
    result = run_tool(['tools/dist_train.sh', str(config), '2', '--work-dir', work_dir,
                       '--cfg-options', *_common_options(embedded_voc_root, 2, split), 'train_dataloader.batch_size=8'])
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
    # two checkpoints, both saved by rank 0 alone (rank 1 never ran the Runner's saving)
    assert sorted(osp.basename(p) for p in glob.glob(osp.join(work_dir, 'epoch_*.pth'))) == ['epoch_1.pth',
                                                                                               'epoch_2.pth']
    with open(osp.join(work_dir, 'saved_by_rank0.txt')) as f:
        assert len(f.read().splitlines()) == 2
    assert not osp.exists(osp.join(work_dir, 'saved_by_rank1.txt'))
    manifest = read_manifest(work_dir)
    assert manifest['status'] == 'complete' and manifest['settings']['world_size'] == 2
