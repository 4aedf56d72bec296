"""IR labels: the confident-region rule, the resumable parallel writer, and pair labels from its PNGs."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from advcam_mm.apis.ir_labels import ir_label_dir_of, ir_label_settings, make_ir_labels
from advcam_mm.core.affinity import affinity_labels_from_ir_label
from advcam_mm.core.ir_label import combine_confident_regions, inter_pixel_relation_label
from advcam_mm.core.pair_indices import pair_index
from advcam_mm.fileio import save_cam_file
from advcam_mm.fileio.label_png import load_label_png

REPO = os.path.join(os.path.dirname(__file__), '..', '..')
TOOL = os.path.join(REPO, 'tools', 'cams_to_ir_labels.py')
BAND = 16  # width of each vertical band of the hand-made images
# One class (0-based key 2 -> dataset id 3) whose map is 0.9 / 0.25 / 0.1 on three bands:
# above 0.35 -> confident foreground, between 0.15 and 0.35 -> unsure, below 0.15 -> background.
MAP_LEVELS = (0.9, 0.25, 0.1)
EXPECTED_BANDS = (3, 255, 0)
COLOURS = ((220, 40, 40), (40, 200, 60), (40, 60, 220))


def hand_made(height=24, band=BAND):
    maps = np.concatenate([np.full((1, height, band), v, np.float32) for v in MAP_LEVELS], axis=2)
    image = np.concatenate([np.full((height, band, 3), c, np.uint8) for c in COLOURS], axis=1)
    label = np.concatenate([np.full((height, band), v, np.uint8) for v in EXPECTED_BANDS], axis=1)
    return image, maps, label


def write_inputs(tmp_path, ids=('a', 'b', 'c'), band=BAND):
    root, cam_dir = tmp_path / 'VOC2012', tmp_path / 'cams'
    (root / 'ImageSets' / 'Segmentation').mkdir(parents=True)
    (root / 'JPEGImages').mkdir()
    image, maps, label = hand_made(band=band)
    for image_id in ids:
        Image.fromarray(image).save(root / 'JPEGImages' / f'{image_id}.jpg', quality=100, subsampling=0)
        save_cam_file(str(cam_dir / f'{image_id}.npy'), np.array([2]), maps[:, ::4, ::4], maps)
    (root / 'ImageSets' / 'Segmentation' / 'train_aug.txt').write_text(''.join(f'{i}\n' for i in ids))
    return str(cam_dir), str(root), label


def test_combine_confident_regions_rule():
    fg_conf = np.array([[3, 3, 0, 0, 0]])
    bg_conf = np.array([[3, 3, 3, 7, 0]])
    np.testing.assert_array_equal(combine_confident_regions(fg_conf, bg_conf), [[3, 3, 255, 255, 0]])
    # large class ids do not wrap around (IRN's `bg_conf + fg_conf == 0` on int64)
    np.testing.assert_array_equal(combine_confident_regions(np.array([[0]]), np.array([[128]])), [[255]])


def test_ir_label_of_hand_made_maps_and_thresholds():
    image, maps, label = hand_made()
    np.testing.assert_array_equal(inter_pixel_relation_label(image, maps, [2]), label)
    # IRN's thresholds (0.30 / 0.05): the 0.25 and the 0.1 band are unsure
    irn = inter_pixel_relation_label(image, maps, [2], conf_fg_thres=0.30, conf_bg_thres=0.05)
    np.testing.assert_array_equal(irn[:, :BAND], 3)
    assert np.all(irn[:, BAND:] == 255)
    # no class: everything is confident background
    empty = inter_pixel_relation_label(image, maps[:0], np.zeros(0, np.int64))
    np.testing.assert_array_equal(empty, 0)
    with pytest.raises(ValueError, match='must not exceed'):
        inter_pixel_relation_label(image, maps, [2], conf_fg_thres=0.1, conf_bg_thres=0.3)


def brute_force_pair_labels(label, radius):
    """(bg_pos, fg_pos, neg) by looping over IRN's sources and search directions."""
    height, width = label.shape
    index = pair_index((height, width), radius)
    directions = index.directions.tolist()
    sources = [(y, x) for y in range(height - radius + 1) for x in range(radius - 1, width - radius + 1)]
    out = np.zeros((3, len(directions), len(sources)), np.float32)
    for d, (dy, dx) in enumerate(directions):
        for s, (y, x) in enumerate(sources):
            a, b = label[y, x], label[y + dy, x + dx]
            if a == 255 or b == 255:
                continue
            if a == b:
                out[0 if a == 0 else 1, d, s] = 1
            else:
                out[2, d, s] = 1
    return out


def test_pair_labels_from_written_ir_label(tmp_path):
    cam_dir, root, label = write_inputs(tmp_path, ids=('a',), band=2 * BAND)
    out_dir = str(tmp_path / 'ir_label')
    make_ir_labels(cam_dir, root, out_dir, num_workers=0, progress=False)
    written = load_label_png(os.path.join(out_dir, 'a.png'))
    np.testing.assert_array_equal(written, label)
    with Image.open(os.path.join(out_dir, 'a.png')) as png:
        assert png.mode == 'P'
    # IRN reduces the label by 1/4 (nearest) and labels the pairs within radius 5 of that grid
    reduced = np.asarray(Image.fromarray(written).resize((written.shape[1] // 4, written.shape[0] // 4),
                                                         Image.NEAREST))
    index = pair_index(reduced.shape, 5)
    labels = affinity_labels_from_ir_label(torch.from_numpy(reduced.copy()), index.indices_from, index.indices_to)
    expected = brute_force_pair_labels(reduced, 5)
    for got, want in zip(labels, expected):
        np.testing.assert_array_equal(got.numpy(), want)
    bg_pos, fg_pos, neg = expected.sum(axis=(1, 2))
    assert fg_pos > 0 and bg_pos > 0 and neg == 0  # the unsure band separates fg from bg
    # without the unsure band, pairs across it become negative
    cleaned = np.where(reduced == 255, 0, reduced).astype(np.uint8)
    assert brute_force_pair_labels(cleaned, 5)[2].sum() > 0


def test_writer_resumes_after_a_kill_and_workers_agree(tmp_path):
    ids = ('a', 'b', 'c', 'd')
    cam_dir, root, label = write_inputs(tmp_path, ids=ids)
    out_dir = tmp_path / 'ir_label'
    out_dir.mkdir()
    # a killed run: 'a' finished (a sentinel content that must be kept), 'b' left a temporary file
    Image.fromarray(np.full(label.shape, 7, np.uint8)).save(out_dir / 'a.png')
    (out_dir / 'b.png.k1ll3d_1.tmp').write_bytes(b'partial')
    (out_dir / 'zz.png.other.tmp').write_bytes(b'not ours')
    result = make_ir_labels(cam_dir, root, str(out_dir), num_workers=2, progress=False)
    assert result['written'] == 3 and result['skipped'] == 1
    assert sorted(os.listdir(out_dir)) == ['a.png', 'b.png', 'c.png', 'd.png', 'zz.png.other.tmp']
    assert np.all(load_label_png(str(out_dir / 'a.png')) == 7)
    for image_id in 'bcd':
        np.testing.assert_array_equal(load_label_png(str(out_dir / f'{image_id}.png')), label)
    again = make_ir_labels(cam_dir, root, str(out_dir), num_workers=2, progress=False)
    assert again['written'] == 0 and again['skipped'] == 4


def test_missing_inputs_are_named(tmp_path):
    cam_dir, root, _ = write_inputs(tmp_path)
    os.remove(os.path.join(cam_dir, 'b.npy'))
    with pytest.raises(FileNotFoundError, match='b.npy.*make_cams'):
        make_ir_labels(cam_dir, root, str(tmp_path / 'out'), num_workers=0, progress=False)
    os.remove(os.path.join(root, 'JPEGImages', 'c.jpg'))
    (tmp_path / 'c_only.txt').write_text('c\n')
    with pytest.raises(FileNotFoundError, match='c.jpg'):
        make_ir_labels(cam_dir, root, str(tmp_path / 'out'), split=str(tmp_path / 'c_only.txt'),
                       num_workers=0, progress=False)
    with pytest.raises(FileNotFoundError, match='val.txt'):
        make_ir_labels(cam_dir, root, str(tmp_path / 'out'), split='val', num_workers=0, progress=False)


def test_settings_and_label_folder_from_config(tmp_path):
    assert ir_label_settings() == dict(conf_fg_thres=0.35, conf_bg_thres=0.15)
    cfg = Config(dict(ir_labels=dict(conf_fg_thres=0.30, conf_bg_thres=0.05),
                      train_dataloader=dict(dataset=dict(data_root='/data/VOC2012', mask_dir='ir'))))
    assert ir_label_settings(cfg, conf_bg_thres=0.1, conf_fg_thres=None) == dict(conf_fg_thres=0.30,
                                                                                 conf_bg_thres=0.1)
    assert ir_label_dir_of(cfg) == os.path.normpath('/data/VOC2012/ir')
    with pytest.raises(ValueError, match='unknown ir_labels'):
        ir_label_settings(Config(dict(ir_labels=dict(conf_thres=0.3))))
    voc = Config.fromfile(os.path.join(REPO, 'configs', 'advcam', 'irnet_r50_3ep_voc12aug.py'))
    assert ir_label_dir_of(voc) == os.path.normpath(os.path.join(os.path.abspath(REPO), 'work_dirs',
                                                                 'ir_label', 'voc'))


def test_tool_with_explicit_folders(tmp_path):
    cam_dir, root, label = write_inputs(tmp_path, ids=('a', 'b'))
    out_dir = tmp_path / 'ir_label'
    command = [sys.executable, TOOL, '--cam-dir', cam_dir, '--data-root', root, '--out-dir', str(out_dir),
               '--num-workers', '0', '--conf-fg-thres', '0.30', '--conf-bg-thres', '0.05']
    env = dict(os.environ, OMP_WAIT_POLICY='PASSIVE', OMP_NUM_THREADS='1')
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert 'wrote 2, skipped 0' in done.stdout and 'conf_fg_thres 0.3' in done.stdout
    assert np.all(load_label_png(str(out_dir / 'a.png'))[:, BAND:] == 255)  # IRN's thresholds
