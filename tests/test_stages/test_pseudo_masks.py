"""Pseudo-mask stage: the random walk stops at the boundary, refiner settings, the dataset's mask folder,
and through tools/make_pseudo_labels.py: seeds of the maps, rerun / resume / refuse / regenerate."""
import os
import os.path as osp
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.config import Config

from advcam_mm.core.seeds import seeds_from_maps
from advcam_mm.fileio.cam_files import cam_file_path, load_cam_file
from advcam_mm.fileio.label_png import load_label_png
from advcam_mm.fileio.manifest import read_manifest
from advcam_mm.stages import pseudo_masks
from advcam_mm.stages.output_folder import StageMismatchError
from advcam_mm.stages.pseudo_masks import (PseudoMaskError, mask_folder_of, pseudo_mask_of_image,
                                           refiner_settings)
from conftest import REPO_ROOT, mtimes
from helpers.hand_made_voc import mark_complete

DEEPLAB_CONFIG = osp.join(REPO_ROOT, 'configs', 'advcam', 'deeplabv2_r18-w16_600it_embedded.py')
IRN_CONFIG = osp.join(REPO_ROOT, 'configs', 'advcam', 'irnet_r18-w16_100ep_embedded.py')
HEIGHT, WIDTH = 32, 48  # stride-4 grid 8 x 12
WALL = 6  # boundary column of the stub IRNet (grid cells)
WALK = dict(beta=10, exp_times=8, sem_seg_bg_thres=0.25, radius=5, cam_power=1.5,
            mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375])


class WallIRNet:
    """Stands in for IRNet: a boundary of 1 on grid column WALL, 0 elsewhere."""

    def boundary_and_displacement(self, image):
        height, width = (-(-s // 4) for s in image.shape[-2:])
        boundary = torch.zeros(height, width)
        boundary[:, WALL] = 1.0
        return boundary, torch.zeros(2, height, width)


def test_walk_fills_its_side_of_the_boundary_only():
    strided = np.zeros((1, HEIGHT // 4, WIDTH // 4), np.float32)
    strided[0, 2:4, 1] = 1.0  # the class map only touches the left side of the wall
    maps = dict(keys=np.array([1]), cam=strided)  # 0-based class 1 -> dataset id 2
    image = np.random.default_rng(0).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    mask = pseudo_mask_of_image(WallIRNet(), image, maps, WALK).numpy()
    assert mask.shape == (HEIGHT, WIDTH)
    assert np.all(mask[:, :4 * WALL - 4] == 2)  # the whole left region, far beyond the seed column
    assert np.all(mask[:, 4 * WALL + 4:] == 0)  # nothing crosses the wall
    with pytest.raises(ValueError, match=r'b.npy: stride-4 maps of size \(5, 5\)'):
        pseudo_mask_of_image(WallIRNet(), image, dict(keys=np.array([1]), cam=np.zeros((1, 5, 5))), WALK,
                             name='b.npy')


def test_refiner_settings():
    assert refiner_settings(dict(type='none', bg_threshold=0.2)) == dict(type='none', bg_threshold=0.2)
    # switching an IRN refiner to seeds with --cfg-options ...refiner.type=crf leaves config/checkpoint behind
    assert refiner_settings(dict(type='crf', config='irn.py', checkpoint='irn.pth', bg_threshold=0.12)) == dict(
        type='crf', bg_threshold=0.12, crf={})  # IRN's CRF
    assert refiner_settings(dict(type='crf', bg_threshold=0.12, crf=dict(bilateral_sxy=15)))['crf'] == dict(
        bilateral_sxy=15)
    with pytest.raises(ValueError, match="refiner 'none' takes \\['bg_threshold'\\]"):
        refiner_settings(dict(type='none', t=10, bg_threshold=0.1))
    with pytest.raises(ValueError, match="refiner 'crf' takes \\['bg_threshold', 'crf'\\]"):
        refiner_settings('crf')
    with pytest.raises(ValueError, match="unknown settings \\['sxy'\\] of refiner 'crf'"):
        refiner_settings(dict(type='crf', bg_threshold=0.1, crf=dict(sxy=3)))
    with pytest.raises(ValueError, match='refiner type must be one of'):
        refiner_settings('dense')
    with pytest.raises(ValueError, match="refiner 'irn' needs the IRNet checkpoint"):
        refiner_settings(dict(type='irn', config=IRN_CONFIG))


def test_irn_refiner_reads_the_random_walk_of_its_config(tmp_path):
    checkpoint = tmp_path / 'irnet.pth'
    checkpoint.write_bytes(b'weights')
    settings = refiner_settings(dict(type='irn', config=IRN_CONFIG, checkpoint=str(checkpoint), exp_times=4))
    walk = Config.fromfile(IRN_CONFIG).random_walk
    assert {k: settings[k] for k in walk} == dict(walk, exp_times=4)  # the config's values, one overridden
    assert settings['mean'] == list(Config.fromfile(IRN_CONFIG).model.data_preprocessor.mean)
    with pytest.raises(KeyError, match=r"unknown random_walk settings \['alpha'\]"):
        refiner_settings(dict(type='irn', config=IRN_CONFIG, checkpoint=str(checkpoint), alpha=1))


def info(folder, image_id):
    return dict(img_id=image_id, img_path=f'{image_id}.jpg', seg_map_path=osp.join(folder, f'{image_id}.png'))


def test_mask_folder_must_be_one_folder_of_id_pngs():
    dataset = type('Dataset', (), dict(data_prefix={}, __len__=lambda self: 2,
                                       get_data_info=lambda self, i: [info('/m', 'a'), info('/m', 'b')][i]))()
    assert mask_folder_of(dataset) == ('/m', [info('/m', 'a'), info('/m', 'b')])
    wrapped = SimpleNamespace(dataset=dataset)  # a wrapper (e.g. RepeatDataset) is looked through
    assert mask_folder_of(wrapped)[0] == '/m'

    def dataset_of(*infos):
        return type('Dataset', (), dict(data_prefix={}, __len__=lambda self: len(infos),
                                        get_data_info=lambda self, i: infos[i]))()
    with pytest.raises(PseudoMaskError, match='masks come from several folders'):
        mask_folder_of(dataset_of(info('/m', 'a'), info('/n', 'b')))
    with pytest.raises(PseudoMaskError, match=r'mask path /m/x.png of image a is not <mask folder>/<image id>.png'):
        mask_folder_of(dataset_of(dict(info('/m', 'a'), seg_map_path='/m/x.png')))
    with pytest.raises(PseudoMaskError, match='samples have no seg_map_path'):
        mask_folder_of(dataset_of(dict(img_id='a', img_path='a.jpg')))
    with pytest.raises(PseudoMaskError, match='the training dataset is empty'):
        mask_folder_of(dataset_of())
    with pytest.raises(PseudoMaskError, match='a concatenation of datasets is not supported'):
        mask_folder_of(type('ConcatDataset', (), dict(data_prefix={}, datasets=[dataset]))())


def tool_argv(data_root, split, label_dir, maps_dir, bg_threshold=0.15, *extra):
    return [DEEPLAB_CONFIG, *extra, '--cfg-options',
            *(f'{loader}_dataloader.dataset.data_root={data_root}' for loader in ('train', 'val', 'test')),
            f'train_dataloader.dataset.ann_file={split}', f'train_dataloader.dataset.mask_dir={label_dir}',
            f'custom_hooks.0.maps_dir={maps_dir}', 'custom_hooks.0.refiner.type=none',
            f'custom_hooks.0.refiner.bg_threshold={bg_threshold}']


def assert_seeds_of_maps(label_dir, maps_dir, threshold):
    """Every mask is ``argmax([threshold, maps])`` of its class-map file (computed here from the file)."""
    paths = sorted(p for p in os.listdir(label_dir) if p.endswith('.png'))
    assert paths
    for name in paths:
        maps = load_cam_file(cam_file_path(maps_dir, name[:-4]))
        expected = seeds_from_maps(maps['high_res'], maps['keys'], threshold)
        np.testing.assert_array_equal(load_label_png(osp.join(label_dir, name)), expected)


def test_tool_makes_resumes_reuses_refuses_and_regenerates(embedded_voc_root, small_train_split, cam_maps, tmp_path,
                                                          capsys):
    labels = str(tmp_path / 'labels')
    maps = shutil.copytree(cam_maps, str(tmp_path / 'maps'))
    argv = tool_argv(embedded_voc_root, small_train_split, labels, maps)
    pseudo_masks.main(argv)
    assert f'fresh: 4 pseudo masks in {labels} (4 made by 1 process(es)' in capsys.readouterr().out
    assert_seeds_of_maps(labels, maps, 0.15)
    manifest = read_manifest(labels)
    assert manifest['settings'] == dict(type='none', bg_threshold=0.15) and manifest['status'] == 'complete'
    assert manifest['inputs']['class_maps']['manifest'] == read_manifest(maps)['digest']
    before = mtimes(labels, '*.png')

    pseudo_masks.main(argv)
    assert 'reuse: 4 pseudo masks' in capsys.readouterr().out and mtimes(labels, '*.png') == before
    # an interrupted folder: the missing masks are made, the others and other writers' files left alone
    removed = sorted(before)[:2]
    for path in removed:
        os.remove(path)
    open(removed[0] + '.k1ll3d.tmp', 'w').close()
    pseudo_masks.main(argv)
    assert '(2 made by 1 process(es)' in capsys.readouterr().out
    after = mtimes(labels, '*.png')
    assert {p: t for p, t in after.items() if p not in removed} == {p: t for p, t in before.items()
                                                                   if p not in removed}
    assert not [n for n in os.listdir(labels) if n.endswith('.tmp')]
    assert_seeds_of_maps(labels, maps, 0.15)
    before = mtimes(labels, '*.png')

    with pytest.raises(StageMismatchError) as error:
        pseudo_masks.main(tool_argv(embedded_voc_root, small_train_split, labels, maps, 0.3))
    assert 'settings.bg_threshold: 0.15 -> 0.3' in str(error.value) and labels in str(error.value)
    mark_complete(maps, 'class_maps', dict(remade=True))  # the maps were remade with other settings
    with pytest.raises(StageMismatchError, match=r'inputs\.class_maps\.manifest: '):
        pseudo_masks.main(argv)
    assert mtimes(labels, '*.png') == before  # refused: untouched

    pseudo_masks.main(tool_argv(embedded_voc_root, small_train_split, labels, maps, 0.3, '--regenerate'))
    assert f'regenerate: 4 pseudo masks in {labels} (4 made by 1 process(es)' in capsys.readouterr().out
    assert all(mtimes(labels, '*.png')[p] != before[p] for p in before)
    assert_seeds_of_maps(labels, maps, 0.3)


def test_missing_maps_and_foreign_masks(embedded_voc_root, embedded_voc_copy, small_train_split, cam_maps, tmp_path):
    maps = shutil.copytree(cam_maps, str(tmp_path / 'maps'))
    with open(small_train_split) as f:
        missing = f.read().split()[1]
    os.remove(cam_file_path(maps, missing))
    labels = str(tmp_path / 'labels')
    with pytest.raises(PseudoMaskError, match=f'{missing}.npy: class maps of 1 training images are missing'):
        pseudo_masks.main(tool_argv(embedded_voc_root, small_train_split, labels, maps))
    assert not osp.exists(labels) or not os.listdir(labels)
    # a mask folder without a manifest (here: the ground truth) is refused, even with --regenerate
    ground_truth = osp.join(embedded_voc_copy, 'SegmentationClassAug')
    before = mtimes(ground_truth)
    for extra in ((), ('--regenerate',)):
        with pytest.raises(StageMismatchError, match='but no stage_manifest.json'):
            pseudo_masks.main(tool_argv(embedded_voc_copy, small_train_split, ground_truth, cam_maps, 0.15, *extra))
    assert mtimes(ground_truth) == before
