"""Per-image panels (tools/visualize_cams.py): sizes, colours, what is shown, errors."""
import json
import os.path as osp

import numpy as np
import pytest
from PIL import Image
from scipy.ndimage import gaussian_filter

from advcam_mm.apis.visualize import (colorize_labels, heatmap_overlay, panel_grid, panel_size,
                                      parse_seed_thresholds, select_image_ids, visualize_cams)
from advcam_mm.datasets.embedded_dataset import EMBEDDED_CLASSES
from advcam_mm.fileio import save_cam_file
from advcam_mm.fileio.label_png import save_label_png
from conftest import run_tool


def test_overlay_and_label_colours():
    image = np.full((4, 5, 3), 100, np.uint8)
    heat = np.zeros((4, 5))
    heat[0, 0] = 1.0
    np.testing.assert_array_equal(heatmap_overlay(image, heat, alpha=0.0), image)
    opaque = heatmap_overlay(image, heat, alpha=1.0)
    np.testing.assert_array_equal(opaque[0, 0], [128, 0, 0])  # jet(1): dark red
    np.testing.assert_array_equal(opaque[1, 1], [0, 0, 128])  # jet(0): dark blue
    labels = colorize_labels(np.array([[0, 1, 2, 255]]))
    np.testing.assert_array_equal(labels[0], [[0, 0, 0], [128, 0, 0], [0, 128, 0], [224, 224, 192]])
    with pytest.raises(ValueError, match='does not match the image'):
        heatmap_overlay(image, np.zeros((5, 4)))
    assert panel_grid(0, 1) == (2, 3) and panel_grid(3, 2) == (3, 5)
    assert panel_size(3, 5) == (1100, 705)


def _image_with_classes(data_root, count):
    labels = np.load(osp.join(data_root, 'cls_labels.npy'), allow_pickle=True).item()
    ids = open(osp.join(data_root, 'ImageSets', 'Segmentation', 'train.txt')).read().split()
    return next(i for i in ids if int(np.asarray(labels[i]).sum()) == count)


def _write_maps(folder, data_root, image_id, blur):
    """Class-map file of the image's ground-truth classes: the blurred object masks, max-normalised."""
    gt = np.asarray(Image.open(osp.join(data_root, 'SegmentationClass', f'{image_id}.png')))
    keys = np.array([c - 1 for c in np.unique(gt) if c not in (0, 255)])
    maps = np.stack([gaussian_filter((gt == k + 1).astype(np.float32), blur) for k in keys])
    maps /= maps.max((1, 2), keepdims=True)
    save_cam_file(osp.join(folder, f'{image_id}.npy'), keys, maps[:, ::4, ::4], maps)
    return gt, keys


def test_panels_have_the_expected_size_and_show_the_seeds(embedded_voc_root, tmp_path):
    one, two = _image_with_classes(embedded_voc_root, 1), _image_with_classes(embedded_voc_root, 2)
    cam_dir, advcam_dir, pseudo_dir = (str(tmp_path / name) for name in ('cam', 'advcam', 'pseudo'))
    for image_id in (one, two):
        _write_maps(cam_dir, embedded_voc_root, image_id, blur=8)
        gt, keys = _write_maps(advcam_dir, embedded_voc_root, image_id, blur=2)
    save_label_png(osp.join(pseudo_dir, f'{two}.png'), gt)  # a pseudo mask for one image only
    paths = visualize_cams(cam_dir, embedded_voc_root, str(tmp_path / 'panels'), ids=[one, two],
                           advcam_dir=advcam_dir, seed_threshold=[0.3, 0.4], pseudo_dir=pseudo_dir,
                           class_names=EMBEDDED_CLASSES)
    assert [osp.basename(p) for p in paths] == [f'{one}.png', f'{two}.png']
    for path, num_classes in zip(paths, (1, 2)):
        with Image.open(path) as image:
            assert image.size == panel_size(*panel_grid(num_classes, 2))
            pixels = np.asarray(image.convert('RGB')).reshape(-1, 3)
        # every ground-truth class of the image shows in its VOC colour (seeds, masks, legend)
        for key in keys if path == paths[1] else []:
            colour = colorize_labels(np.array([key + 1]))[0]
            assert (pixels == colour).all(1).sum() > 1000
    assert panel_size(*panel_grid(2, 2)) == (880, 705)


def test_tool_writes_panels_with_one_map_folder(embedded_voc_root, tmp_path):
    image_id = _image_with_classes(embedded_voc_root, 2)
    cam_dir = str(tmp_path / 'maps')
    _write_maps(cam_dir, embedded_voc_root, image_id, blur=4)
    out_dir = str(tmp_path / 'panels')
    seeds_json = tmp_path / 'advcam_seeds.json'  # as tools/eval_seeds.py --out-json writes it
    seeds_json.write_text(json.dumps({'best_threshold': 0.2, 'miou': 0.5}))
    result = run_tool(['tools/visualize_cams.py', '--cam-dir', cam_dir, '--cam-name', 'AdvCAM', '--data-root',
                       embedded_voc_root, '--num', '3', '--out-dir', out_dir, '--seed-threshold', str(seeds_json)])
    assert 'wrote 1 panel(s)' in result.stdout  # only one image of the split has maps
    with Image.open(osp.join(out_dir, f'{image_id}.png')) as image:
        assert image.size == panel_size(*panel_grid(2, 1)) == (880, 485)


def test_seed_thresholds_from_values_or_eval_seeds_results(tmp_path):
    results = tmp_path / 'cam_seeds.json'
    results.write_text(json.dumps({'best_threshold': 0.13}))
    assert parse_seed_thresholds('0.2') == [0.2] and parse_seed_thresholds([0.1, 0.3]) == [0.1, 0.3]
    assert parse_seed_thresholds(f'{results}, 0.25') == [0.13, 0.25]
    with pytest.raises(FileNotFoundError, match='missing.json: seed results file not found'):
        parse_seed_thresholds(str(tmp_path / 'missing.json'))
    with pytest.raises(ValueError, match='bad seed threshold'):
        parse_seed_thresholds('0.1,x')


def test_bad_inputs_are_named(embedded_voc_root, tmp_path):
    image_id = _image_with_classes(embedded_voc_root, 1)
    cam_dir = str(tmp_path / 'maps')
    with pytest.raises(FileNotFoundError, match=f'{image_id}.npy: class-map file not found'):
        select_image_ids(cam_dir, embedded_voc_root, ids=[image_id])
    with pytest.raises(FileNotFoundError, match='no class-map file'):
        select_image_ids(cam_dir, embedded_voc_root, num=2)
    save_cam_file(osp.join(cam_dir, f'{image_id}.npy'), [0], np.ones((1, 8, 8)), np.ones((1, 32, 32)))
    with pytest.raises(ValueError, match=r'maps of size \(32, 32\) but image .* is \(128, 128\)'):
        visualize_cams(cam_dir, embedded_voc_root, str(tmp_path / 'panels'), ids=[image_id])
    with pytest.raises(ValueError, match='3 seed thresholds given for 1 class-map folders'):
        visualize_cams(cam_dir, embedded_voc_root, str(tmp_path / 'panels'), ids=[image_id],
                       seed_threshold=[0.1, 0.2, 0.3])
