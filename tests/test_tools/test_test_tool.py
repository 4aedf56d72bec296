"""tools/test.py --show-dir paints the predictions (MMSeg's visualizer); tools/slurm_test.sh passes its arguments."""
import copy
import os
import os.path as osp
import stat
import subprocess

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from conftest import REPO_ROOT, run_tool

CONFIG = osp.join(REPO_ROOT, 'configs', 'advcam', 'deeplabv2_r18-w16_600it_embedded.py')
NUM_IMAGES = 3
ALPHA = 0.8  # SegLocalVisualizer's default transparency of the painted mask


@pytest.fixture(scope='module')
def random_checkpoint(tmp_path_factory):
    """A checkpoint of the tiny embedded DeepLab-v2 with random weights (what is painted is what it predicts)."""
    import advcam_mm  # noqa: F401  (registers the components)
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS
    cfg = Config.fromfile(CONFIG)
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.init_cfg = None
    with DefaultScope.overwrite_default_scope('mmseg'):
        torch.manual_seed(0)
        model = MODELS.build(model_cfg)
        model.init_weights()
    path = str(tmp_path_factory.mktemp('checkpoint') / 'random.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return path, cfg.test_dataloader.dataset.metainfo['palette']


def test_show_dir_writes_overlays_of_the_predictions(embedded_voc_root, random_checkpoint, tmp_path):
    checkpoint, palette = random_checkpoint
    with open(osp.join(embedded_voc_root, 'ImageSets', 'Segmentation', 'val.txt')) as f:
        ids = [line.strip() for line in f if line.strip()][:NUM_IMAGES]
    split = tmp_path / 'split.txt'
    split.write_text('\n'.join(ids) + '\n')
    show_dir, out_dir = tmp_path / 'show', tmp_path / 'pred'
    run_tool(['tools/test.py', CONFIG, checkpoint, '--work-dir', str(tmp_path / 'work'),
              '--show-dir', str(show_dir), '--out', str(out_dir), '--cfg-options',
              f'test_dataloader.dataset.data_root={embedded_voc_root}', f'test_dataloader.dataset.ann_file={split}'])
    painted = sorted(os.listdir(show_dir / 'vis_data' / 'vis_image'))
    assert painted == sorted(f'test_{i}.jpg_0.png' for i in ids)  # every image, not one in 50
    for image_id in ids:
        image = np.asarray(Image.open(osp.join(embedded_voc_root, 'JPEGImages', image_id + '.jpg')).convert('RGB'))
        overlay = np.asarray(Image.open(show_dir / 'vis_data' / 'vis_image' / f'test_{image_id}.jpg_0.png'))
        height, width = image.shape[:2]
        assert overlay.shape == (height, 2 * width, 3)  # ground truth | prediction
        ground_truth_half, prediction_half = overlay[:, :width].astype(int), overlay[:, width:].astype(int)
        assert np.abs(ground_truth_half - image).mean() > 5 and np.abs(prediction_half - image).mean() > 5
        # the right half is the prediction (from --out) painted over the image with the dataset's palette
        prediction = np.asarray(Image.open(out_dir / f'{image_id}.png'))
        colours = np.asarray(palette, dtype=float)[prediction]
        expected = (image * (1 - ALPHA) + colours * ALPHA).astype(int)
        close = np.abs(prediction_half - expected).max(axis=2) <= 2
        assert close.mean() > 0.9  # the rest: class-name labels drawn on the mask


def test_slurm_test_script_launches_test_py_per_task(tmp_path):
    """A stand-in ``srun`` records its arguments: partition, job, tasks, then test.py with --launcher=slurm."""
    record = tmp_path / 'srun_args.txt'
    fake = tmp_path / 'bin' / 'srun'
    fake.parent.mkdir()
    fake.write_text(f'#!/usr/bin/env bash\nprintf "%s\\n" "$@" > {record}\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    env = dict(os.environ, PATH=f'{fake.parent}{os.pathsep}{os.environ["PATH"]}', GPUS='16', GPUS_PER_NODE='8')
    subprocess.run(['bash', 'tools/slurm_test.sh', 'gpu', 'advcam_test', 'configs/advcam/deeplabv2_voc.py',
                    'ckpt.pth', '--tta', '--cfg-options', 'model.test_cfg.crf.enabled=True'],
                   cwd=REPO_ROOT, env=env, check=True, capture_output=True)
    args = record.read_text().splitlines()
    assert args[:6] == ['-p', 'gpu', '--job-name=advcam_test', '--gres=gpu:8', '--ntasks=16', '--ntasks-per-node=8']
    command = args[args.index('-u') - 1:]
    assert command[1:] == ['-u', osp.join('tools', 'test.py'), 'configs/advcam/deeplabv2_voc.py', 'ckpt.pth',
                           '--launcher=slurm', '--tta', '--cfg-options', 'model.test_cfg.crf.enabled=True']
