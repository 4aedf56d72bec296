"""Class-map generation through tools/make_cams.py: 1 vs 2 processes, resume after a kill."""
import glob
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from advcam_mm.fileio import load_cam_file
from conftest import REPO_ROOT, embedded_data_options, run_tool, tool_env

# Short climbs keep the test fast; the semantics are those of the full default.
FAST_ADVCAM = ['label_generation.steps=3', 'label_generation.scales=[1.0,0.5]']


def _make_cams_args(config, checkpoint, data_root, out_dir, split='val'):
    return ['tools/make_cams.py', config, checkpoint, '--out-dir', out_dir, '--split', split,
            '--method', 'advcam', '--cfg-options', *embedded_data_options(data_root), *FAST_ADVCAM]


def _assert_same_maps(dir_a, dir_b):
    names_a = sorted(os.listdir(dir_a))
    assert names_a == sorted(os.listdir(dir_b)) and names_a
    for name in names_a:
        a, b = load_cam_file(osp.join(dir_a, name)), load_cam_file(osp.join(dir_b, name))
        np.testing.assert_array_equal(a['keys'], b['keys'])
        np.testing.assert_allclose(a['high_res'], b['high_res'], atol=2e-3)
        np.testing.assert_allclose(a['cam'], b['cam'], atol=2e-3)


def test_two_processes_write_the_same_files_as_one(trained_tiny_classifier, embedded_voc_root, tmp_path):
    config, checkpoint = trained_tiny_classifier
    one = str(tmp_path / 'one')
    two = str(tmp_path / 'two')
    result = run_tool(_make_cams_args(config, checkpoint, embedded_voc_root, one))
    assert 'wrote 40' in result.stdout and 'images/s' in result.stdout
    torchrun = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
                '--master_port', '29517', *_make_cams_args(config, checkpoint, embedded_voc_root, two),
                '--launcher', 'pytorch']
    done = subprocess.run(torchrun, cwd=REPO_ROOT, env=tool_env(1), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    assert 'rank 0: wrote 20' in done.stdout and 'rank 1: wrote 20' in done.stdout
    _assert_same_maps(one, two)
    maps = load_cam_file(glob.glob(osp.join(one, '*.npy'))[0])
    assert maps['high_res'].max() == pytest.approx(1.0, abs=1e-2)  # max-normalised per class
    assert maps['cam'].shape[1:] == (32, 32) and maps['high_res'].shape[1:] == (128, 128)


def test_killed_run_resumes_without_losing_files(trained_tiny_classifier, embedded_voc_root, tmp_path):
    config, checkpoint = trained_tiny_classifier
    out_dir = str(tmp_path / 'maps')
    command = [sys.executable, *_make_cams_args(config, checkpoint, embedded_voc_root, out_dir,
                                                split='train')]
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=tool_env(1), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and len(glob.glob(osp.join(out_dir, '*.npy'))) < 5:
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = {p: os.stat(p).st_mtime_ns for p in glob.glob(osp.join(out_dir, '*.npy'))}
    assert 5 <= len(before) < 60, 'the kill should land mid-run'
    for path in before:  # every file present after the kill is complete
        load_cam_file(path)

    result = run_tool(command[1:])
    assert f'skipped {len(before)} finished' in result.stdout
    after = glob.glob(osp.join(out_dir, '*.npy'))
    assert len(after) == 60
    assert all(os.stat(p).st_mtime_ns == mtime for p, mtime in before.items())
    assert not glob.glob(osp.join(out_dir, '*.tmp'))  # no temporary file survives a finished run
