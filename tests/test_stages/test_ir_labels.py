"""IR-label stage: labels of hand-made maps, pair labels from its PNGs, resume, errors, rerun / refuse / regenerate."""
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from advcam_mm.core.affinity import affinity_labels_from_ir_label
from advcam_mm.core.pair_indices import pair_index
from advcam_mm.fileio.label_png import load_label_png
from advcam_mm.fileio.manifest import ManifestError, read_manifest
from advcam_mm.stages import ir_labels
from advcam_mm.stages.output_folder import StageMismatchError
from advcam_mm.stages.runner import load_config
from conftest import REPO_ROOT, mtimes, options_dict
from helpers.hand_made_voc import mark_complete, write_maps
from test_core.test_ir_label import BAND, hand_made

IRN_CONFIG = osp.join(REPO_ROOT, 'configs', 'advcam', 'irnet_r18-w16_100ep_embedded.py')
VOC_IRN_CONFIG = osp.join(REPO_ROOT, 'configs', 'advcam', 'irnet_r50_3ep_voc12aug.py')


def write_inputs(tmp_path, ids=('a', 'b', 'c'), band=BAND):
    """Images of three colour bands, their class maps (with a finished manifest), a train_aug list."""
    root, cam_dir = tmp_path / 'VOC2012', tmp_path / 'cams'
    (root / 'ImageSets' / 'Segmentation').mkdir(parents=True)
    (root / 'JPEGImages').mkdir()
    image, maps, label = hand_made(band=band)
    for image_id in ids:
        Image.fromarray(image).save(root / 'JPEGImages' / f'{image_id}.jpg', quality=100, subsampling=0)
    write_maps(str(cam_dir), {image_id: ([2], maps) for image_id in ids})
    (root / 'ImageSets' / 'Segmentation' / 'train_aug.txt').write_text(''.join(f'{i}\n' for i in ids))
    return str(cam_dir), str(root), label


def run(root, cam_dir, out_dir, *options, **kwargs):
    kwargs.setdefault('num_workers', 0)
    return ir_labels.run(IRN_CONFIG, cam_dir, str(out_dir),
                         cfg_options=options_dict([f'train_dataloader.dataset.data_root={root}', *options]),
                         progress=False, **kwargs)


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
    result = run(root, cam_dir, out_dir)
    assert result == dict(written=1, skipped=0, out_dir=out_dir, plan='fresh')
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


def test_killed_run_resumes_and_workers_agree(tmp_path):
    ids = ('a', 'b', 'c', 'd')
    cam_dir, root, label = write_inputs(tmp_path, ids=ids)
    out_dir = tmp_path / 'ir_label'
    # a killed run: the stage had started (incomplete manifest), 'a' finished (a sentinel that must be kept),
    # 'b' left a temporary file; another writer's temporary file is not ours to remove
    cfg = load_config(IRN_CONFIG, options_dict([f'train_dataloader.dataset.data_root={root}']))
    folder, _, _ = ir_labels.describe(cfg, cam_dir, str(out_dir))
    folder.start(folder.plan())
    Image.fromarray(np.full(label.shape, 7, np.uint8)).save(out_dir / 'a.png')
    (out_dir / 'b.png.k1ll3d_1.tmp').write_bytes(b'partial')
    (out_dir / 'zz.png.other.tmp').write_bytes(b'not ours')
    result = run(root, cam_dir, out_dir, num_workers=2)
    assert (result['written'], result['skipped'], result['plan']) == (3, 1, 'resume')
    assert sorted(os.listdir(out_dir)) == ['a.png', 'b.png', 'c.png', 'd.png', 'stage_manifest.json',
                                           'zz.png.other.tmp']
    assert np.all(load_label_png(str(out_dir / 'a.png')) == 7)
    for image_id in 'bcd':  # made in 2 worker processes: the labels of the rule
        np.testing.assert_array_equal(load_label_png(str(out_dir / f'{image_id}.png')), label)
    assert read_manifest(str(out_dir))['status'] == 'complete'
    again = run(root, cam_dir, out_dir, num_workers=2)
    assert (again['written'], again['skipped'], again['plan']) == (0, 4, 'reuse')


def test_missing_inputs_are_named(tmp_path):
    cam_dir, root, _ = write_inputs(tmp_path)
    os.remove(os.path.join(cam_dir, 'b.npy'))
    with pytest.raises(FileNotFoundError, match='b.npy.*make_cams'):
        run(root, cam_dir, tmp_path / 'out')
    os.remove(os.path.join(root, 'JPEGImages', 'c.jpg'))
    (tmp_path / 'c_only.txt').write_text('c\n')
    with pytest.raises(FileNotFoundError, match='c.jpg'):
        run(root, cam_dir, tmp_path / 'out2', split=str(tmp_path / 'c_only.txt'))
    with pytest.raises(FileNotFoundError, match='val.txt'):
        run(root, cam_dir, tmp_path / 'out3', split='val')
    os.remove(os.path.join(cam_dir, 'stage_manifest.json'))  # maps nobody vouches for
    with pytest.raises(ManifestError, match=f'{cam_dir}: no stage_manifest.json'):
        run(root, cam_dir, tmp_path / 'out4')


def test_settings_and_label_folder_from_config():
    voc = Config.fromfile(VOC_IRN_CONFIG)
    assert ir_labels.ir_label_settings(voc) == dict(conf_fg_thres=0.35, conf_bg_thres=0.15)  # AdvCAM's
    cfg = Config(dict(ir_labels=dict(conf_fg_thres=0.30, conf_bg_thres=0.05),
                      train_dataloader=dict(dataset=dict(data_root='/data/VOC2012', mask_dir='ir'))))
    assert ir_labels.ir_label_settings(cfg, conf_bg_thres=0.1, conf_fg_thres=None) == dict(conf_fg_thres=0.30,
                                                                                           conf_bg_thres=0.1)
    assert ir_labels.ir_label_dir_of(cfg) == os.path.normpath('/data/VOC2012/ir')
    with pytest.raises(KeyError, match=r"unknown ir_labels settings \['conf_thres'\]"):
        ir_labels.ir_label_settings(Config(dict(ir_labels=dict(conf_fg_thres=0.3, conf_bg_thres=0.1,
                                                               conf_thres=0.3))))
    with pytest.raises(KeyError, match='ir_labels lacks conf_bg_thres'):
        ir_labels.ir_label_settings(Config(dict(ir_labels=dict(conf_fg_thres=0.3))))
    assert ir_labels.ir_label_dir_of(voc) == os.path.normpath(os.path.join(REPO_ROOT, 'work_dirs', 'ir_labels',
                                                                           'voc12aug'))


def test_rerun_skips_other_settings_are_refused_regenerate_remakes(tmp_path, capsys):
    cam_dir, root, label = write_inputs(tmp_path, ids=('a', 'b'))
    out_dir = tmp_path / 'ir_label'
    argv = [IRN_CONFIG, '--cam-dir', cam_dir, '--out-dir', str(out_dir), '--num-workers', '0', '--cfg-options',
            f'train_dataloader.dataset.data_root={root}']
    ir_labels.main(argv)
    assert 'wrote 2, kept 0 finished' in capsys.readouterr().out
    before = mtimes(out_dir, '*.png')
    ir_labels.main(argv)
    assert 'wrote 0, kept 2 finished' in capsys.readouterr().out and mtimes(out_dir, '*.png') == before

    irn_thresholds = ['ir_labels.conf_fg_thres=0.30', 'ir_labels.conf_bg_thres=0.05']
    with pytest.raises(StageMismatchError) as error:
        ir_labels.main(argv + irn_thresholds)
    assert 'settings.conf_fg_thres: 0.35 -> 0.3' in str(error.value)
    assert 'settings.conf_bg_thres: 0.15 -> 0.05' in str(error.value)
    # the maps were remade (another manifest): the labels made from the old ones are refused too
    mark_complete(cam_dir, 'class_maps', dict(hand_made=True, remade=True))
    with pytest.raises(StageMismatchError, match=r'inputs\.class_maps\.manifest: '):
        ir_labels.main(argv)
    assert mtimes(out_dir, '*.png') == before

    ir_labels.main(argv + irn_thresholds + ['--regenerate'])
    assert 'conf_fg_thres 0.3' in capsys.readouterr().out
    assert all(mtimes(out_dir, '*.png')[p] != before[p] for p in before)
    assert np.all(load_label_png(str(out_dir / 'a.png'))[:, BAND:] == 255)  # IRN's thresholds: 0.25, 0.1 unsure
    # the config's CRF: IRN's, its lengths scaled to the embedded images (_base_/embedded_scale.py)
    assert read_manifest(str(out_dir))['settings'] == dict(conf_fg_thres=0.30, conf_bg_thres=0.05, crf=dict(
        t=10, gt_prob=0.7, gaussian_sxy=0.89, gaussian_compat=3, bilateral_sxy=14.8, bilateral_srgb=5,
        bilateral_compat=10))
