"""Pseudo masks by random walk: the walk stops at the boundary, writing is atomic, resumable and split by rank."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from advcam_mm.apis.sem_seg_labels import make_sem_seg_labels, random_walk_settings
from advcam_mm.fileio import save_cam_file
from advcam_mm.fileio.label_png import load_label_png

REPO = os.path.join(os.path.dirname(__file__), '..', '..')
TOOL = os.path.join(REPO, 'tools', 'make_sem_seg_labels.py')
TINY_CONFIG = os.path.join(REPO, 'configs', 'advcam', 'irnet_r18-w16_20ep_embedded.py')
HEIGHT, WIDTH = 32, 48  # stride-4 grid 8 x 12
WALL = 6  # boundary column of the stub IRNet (grid cells)
KEYS = np.array([1])  # 0-based class 1 -> dataset id 2
MEAN, STD = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]


class WallIRNet:
    """Stands in for IRNet: a boundary of 1 on grid column WALL, 0 elsewhere; counts its calls."""

    def __init__(self):
        self.calls = 0

    def boundary_and_displacement(self, image):
        self.calls += 1
        height, width = (-(-s // 4) for s in image.shape[-2:])
        boundary = torch.zeros(height, width)
        boundary[:, WALL] = 1.0
        return boundary, torch.zeros(2, height, width)


def write_inputs(tmp_path, ids=('a', 'b', 'c', 'd')):
    root, cam_dir = tmp_path / 'VOC2012', tmp_path / 'cams'
    (root / 'ImageSets' / 'Segmentation').mkdir(parents=True)
    (root / 'JPEGImages').mkdir()
    rng = np.random.default_rng(0)
    strided = np.zeros((1, HEIGHT // 4, WIDTH // 4), np.float32)
    strided[0, 2:4, 1] = 1.0  # the class map only touches the left side of the wall
    for image_id in ids:
        image = rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
        Image.fromarray(image).save(root / 'JPEGImages' / f'{image_id}.jpg')
        save_cam_file(str(cam_dir / f'{image_id}.npy'), KEYS, strided, np.zeros((1, HEIGHT, WIDTH)))
    (root / 'ImageSets' / 'Segmentation' / 'train.txt').write_text(''.join(f'{i}\n' for i in ids))
    return str(cam_dir), str(root), list(ids)


def run(model, ids, root, cam_dir, out_dir, **kwargs):
    return make_sem_seg_labels(model, ids, os.path.join(root, 'JPEGImages'), cam_dir, str(out_dir),
                               random_walk_settings(), MEAN, STD, show_progress=False, **kwargs)


def test_walk_fills_its_side_of_the_boundary_only(tmp_path):
    cam_dir, root, ids = write_inputs(tmp_path, ids=('a',))
    run(WallIRNet(), ids, root, cam_dir, tmp_path / 'masks', rank=0, world_size=1)
    mask = load_label_png(str(tmp_path / 'masks' / 'a.png'))
    assert mask.shape == (HEIGHT, WIDTH)
    assert np.all(mask[:, :4 * WALL - 4] == 2)  # the whole left region, far beyond the seed column
    assert np.all(mask[:, 4 * WALL + 4:] == 0)  # nothing crosses the wall
    with Image.open(tmp_path / 'masks' / 'a.png') as png:
        assert png.mode == 'P'


def test_resume_after_a_kill_and_ranks_split_the_ids(tmp_path):
    cam_dir, root, ids = write_inputs(tmp_path)
    out_dir = tmp_path / 'masks'
    out_dir.mkdir()
    Image.fromarray(np.full((HEIGHT, WIDTH), 9, np.uint8)).save(out_dir / 'a.png')  # finished before the kill
    (out_dir / 'b.png.x7y8z9ab.tmp').write_bytes(b'partial')                        # killed while writing b
    model = WallIRNet()
    result = run(model, ids, root, cam_dir, out_dir, rank=0, world_size=1)
    assert (result['written'], result['skipped'], model.calls) == (3, 1, 3)
    assert sorted(os.listdir(out_dir)) == ['a.png', 'b.png', 'c.png', 'd.png']
    assert np.all(load_label_png(str(out_dir / 'a.png')) == 9)
    assert run(model, ids, root, cam_dir, out_dir, rank=0, world_size=1)['written'] == 0 and model.calls == 3
    # two ranks write disjoint halves that together equal the single-process output
    split_dir = tmp_path / 'split'
    shares = [run(WallIRNet(), ids, root, cam_dir, split_dir, rank=r, world_size=2)['written'] for r in (0, 1)]
    assert shares == [2, 2]
    for image_id in 'bcd':
        np.testing.assert_array_equal(load_label_png(str(split_dir / f'{image_id}.png')),
                                      load_label_png(str(out_dir / f'{image_id}.png')))


def test_errors_name_the_file(tmp_path):
    cam_dir, root, ids = write_inputs(tmp_path, ids=('a', 'b'))
    os.remove(os.path.join(cam_dir, 'b.npy'))
    with pytest.raises(FileNotFoundError, match='b.npy.*make_cams'):
        run(WallIRNet(), ids, root, cam_dir, tmp_path / 'masks', rank=0, world_size=1)
    save_cam_file(os.path.join(cam_dir, 'b.npy'), KEYS, np.zeros((1, 5, 5)), np.zeros((1, HEIGHT, WIDTH)))
    with pytest.raises(ValueError, match=r'b.npy: stride-4 maps of size \(5, 5\)'):
        run(WallIRNet(), ids, root, cam_dir, tmp_path / 'masks', rank=0, world_size=1)


def test_settings_defaults_config_and_overrides():
    assert random_walk_settings() == dict(beta=10, exp_times=8, sem_seg_bg_thres=0.25, radius=5, cam_power=1.5)
    cfg = Config(dict(random_walk=dict(exp_times=6)))
    assert random_walk_settings(cfg, beta=None, sem_seg_bg_thres=0.3)['exp_times'] == 6
    assert random_walk_settings(cfg, sem_seg_bg_thres=0.3)['sem_seg_bg_thres'] == 0.3
    with pytest.raises(ValueError, match='unknown random_walk'):
        random_walk_settings(Config(dict(random_walk=dict(alpha=1))))


def test_tool_one_and_two_processes_agree(tmp_path, mmseg_scope):
    from mmseg.registry import MODELS
    cam_dir, root, ids = write_inputs(tmp_path, ids=('a', 'b', 'c'))
    cfg = Config.fromfile(TINY_CONFIG)
    cfg.model.backbone.init_cfg = None
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    checkpoint = tmp_path / 'irnet.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, checkpoint)
    env = dict(os.environ, OMP_WAIT_POLICY='PASSIVE', OMP_NUM_THREADS='1')
    common = [TINY_CONFIG, str(checkpoint), '--cam-dir', cam_dir, '--split', 'train', '--data-root', root,
              '--exp-times', '4']
    single = subprocess.run([sys.executable, TOOL, *common, '--out-dir', str(tmp_path / 'one')],
                            capture_output=True, text=True, env=env, timeout=180)
    assert single.returncode == 0, single.stderr
    assert 'wrote 3, skipped 0' in single.stdout and "'exp_times': 4" in single.stdout
    double = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
                             '--master_port', '29517', TOOL, *common, '--out-dir', str(tmp_path / 'two'),
                             '--launcher', 'pytorch'], capture_output=True, text=True, env=env, timeout=180)
    assert double.returncode == 0, double.stderr[-3000:]
    assert 'rank 0: wrote 2' in double.stdout and 'rank 1: wrote 1' in double.stdout
    for image_id in ids:
        mask = load_label_png(str(tmp_path / 'one' / f'{image_id}.png'))
        assert set(np.unique(mask)) <= {0, 2}
        np.testing.assert_array_equal(load_label_png(str(tmp_path / 'two' / f'{image_id}.png')), mask)
