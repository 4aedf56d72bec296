"""Panel stage (tools/visualize_cams.py): sizes, every class of every panel in its colour, thresholds from a
seed evaluation, errors, rerun / refuse / regenerate."""
import json
import re
import os.path as osp

import numpy as np
import pytest
from PIL import Image
from scipy.ndimage import gaussian_filter

from advcam_mm.fileio.label_png import save_label_png
from advcam_mm.fileio.manifest import read_manifest
from advcam_mm.stages import panels
from advcam_mm.stages.output_folder import StageMismatchError
from advcam_mm.visualization import colorize_labels, panel_grid, panel_size
from conftest import TINY_CLASSIFIER_CONFIG, embedded_data_options, mtimes, options_dict
from helpers.hand_made_voc import mark_complete, write_maps


def images_with_classes(data_root, count, number=1):
    labels = np.load(osp.join(data_root, 'cls_labels.npy'), allow_pickle=True).item()
    with open(osp.join(data_root, 'ImageSets', 'Segmentation', 'train.txt')) as f:
        ids = f.read().split()
    return [i for i in ids if int(np.asarray(labels[i]).sum()) == count][:number]


def ground_truth(data_root, image_id):
    return np.asarray(Image.open(osp.join(data_root, 'SegmentationClass', f'{image_id}.png')))


def blurred_object_maps(data_root, ids, folder, blur):
    """Class maps of the images' ground-truth classes: the blurred object masks, max-normalised (+ manifest)."""
    maps = {}
    for image_id in ids:
        gt = ground_truth(data_root, image_id)
        keys = [c - 1 for c in np.unique(gt) if c not in (0, 255)]
        high_res = np.stack([gaussian_filter((gt == k + 1).astype(np.float32), blur) for k in keys])
        maps[image_id] = (keys, high_res / high_res.max((1, 2), keepdims=True))
    return write_maps(folder, maps, dict(blur=blur))


def run(data_root, maps, out_dir, **kwargs):
    return panels.run(TINY_CLASSIFIER_CONFIG, maps, str(out_dir),
                      cfg_options=options_dict(embedded_data_options(data_root)), **kwargs)


@pytest.fixture(scope='module')
def two_images(embedded_voc_root, tmp_path_factory):
    """An image with one class and one with two; CAM-like (wide) and AdvCAM-like (tight) maps; a pseudo mask."""
    ids = images_with_classes(embedded_voc_root, 1) + images_with_classes(embedded_voc_root, 2)
    folder = tmp_path_factory.mktemp('panel_inputs')
    cam = blurred_object_maps(embedded_voc_root, ids, str(folder / 'cam'), blur=8)
    advcam = blurred_object_maps(embedded_voc_root, ids, str(folder / 'advcam'), blur=2)
    pseudo = str(folder / 'pseudo')
    save_label_png(osp.join(pseudo, f'{ids[1]}.png'), ground_truth(embedded_voc_root, ids[1]))  # one image only
    mark_complete(pseudo, 'pseudo_masks', dict(hand_made=True))
    return ids, cam, advcam, pseudo


def test_panels_have_their_size_and_show_every_class(embedded_voc_root, two_images, tmp_path):
    ids, cam, advcam, pseudo = two_images
    paths = run(embedded_voc_root, [('CAM', cam), ('AdvCAM', advcam)], tmp_path / 'panels', thresholds=[0.3, 0.4],
                labels=[('pseudo mask', pseudo)], ids=ids)
    assert [osp.basename(p) for p in paths] == [f'{i}.png' for i in ids]
    for path, image_id, num_classes in zip(paths, ids, (1, 2)):
        with Image.open(path) as image:
            assert image.size == panel_size(*panel_grid(num_classes, 2, 2))
            pixels = np.asarray(image.convert('RGB')).reshape(-1, 3)
        # every ground-truth class of this image shows in its VOC colour (ground truth, seeds, CRF seeds)
        classes = [c for c in np.unique(ground_truth(embedded_voc_root, image_id)) if c not in (0, 255)]
        assert len(classes) == num_classes
        for label in classes:
            assert (pixels == colorize_labels(np.array([label]))[0]).all(1).sum() > 1000, (image_id, label)
        absent = [c for c in range(1, 5) if c not in classes]
        for label in absent:  # and no other class does
            assert (pixels == colorize_labels(np.array([label]))[0]).all(1).sum() < 50, (image_id, label)
    assert panel_size(*panel_grid(2, 2)) == (880, 705)
    manifest = read_manifest(str(tmp_path / 'panels'))
    assert manifest['settings']['ids'] == ids and manifest['settings']['rows'] == ['CAM', 'AdvCAM']


def test_tool_with_a_seed_evaluation_as_threshold_and_rerun_refuse_regenerate(embedded_voc_root, two_images,
                                                                              tmp_path, capsys):
    ids, _, advcam, _ = two_images
    seeds = tmp_path / 'advcam_seeds'  # a seed-evaluation folder: its best threshold
    seeds.mkdir()
    (seeds / 'metrics.json').write_text(json.dumps({'best_threshold': 0.2, 'miou': 0.5}))
    out_dir = str(tmp_path / 'panels')

    def argv(threshold, *flags):
        return [TINY_CLASSIFIER_CONFIG, '--maps', f'AdvCAM={advcam}', '--num', '3', '--out-dir', out_dir,
                '--seed-threshold', threshold, *flags, '--cfg-options', *embedded_data_options(embedded_voc_root)]
    panels.main(argv(str(seeds)))
    assert 'wrote 2 panel(s)' in capsys.readouterr().out  # only two images of the split have maps
    with Image.open(osp.join(out_dir, f'{ids[1]}.png')) as image:
        assert image.size == panel_size(*panel_grid(2, 1, 1)) == (880, 485)
    assert read_manifest(out_dir)['settings']['thresholds'] == [0.2]
    before = mtimes(out_dir, '*.png')

    panels.main(argv(str(seeds)))
    assert mtimes(out_dir, '*.png') == before
    with pytest.raises(StageMismatchError, match=re.escape('settings.thresholds: [0.2] -> [0.35]')):
        panels.main(argv('0.35'))
    assert mtimes(out_dir, '*.png') == before
    panels.main(argv(str(seeds), '--no-crf', '--regenerate'))
    after = mtimes(out_dir, '*.png')
    assert after.keys() == before.keys() and all(after[p] != before[p] for p in before)
    with Image.open(osp.join(out_dir, f'{ids[1]}.png')) as image:
        assert image.size == panel_size(*panel_grid(2, 1, 1))
    assert read_manifest(out_dir)['settings']['crf'] is None


def test_seed_thresholds_from_values_or_seed_evaluations(tmp_path):
    (tmp_path / 'metrics.json').write_text(json.dumps({'best_threshold': 0.13}))
    assert panels.seed_threshold('0.2') == 0.2 and panels.seed_threshold(0.3) == 0.3
    assert panels.seed_threshold(str(tmp_path)) == 0.13
    assert panels.seed_threshold(str(tmp_path / 'metrics.json')) == 0.13
    with pytest.raises(ValueError, match="seed threshold 'x': expected a number or a seed-evaluation folder"):
        panels.seed_threshold('x')
    assert panels.named_folders(['CAM=/a', 'Adv CAM = /b=c'], '--maps') == [('CAM', '/a'), ('Adv CAM', ' /b=c')]
    with pytest.raises(ValueError, match="--maps '/a': expected NAME=FOLDER"):
        panels.named_folders(['/a'], '--maps')


def test_bad_inputs_are_named(embedded_voc_root, two_images, tmp_path):
    ids, cam, _, _ = two_images
    other = images_with_classes(embedded_voc_root, 1, 3)[-1]
    with pytest.raises(FileNotFoundError, match=f'image {other} has no class-map file in every --maps folder'):
        run(embedded_voc_root, [('CAM', cam)], tmp_path / 'a', ids=[other])
    with pytest.raises(KeyError, match='image val_0001 is not in the evaluation split'):
        run(embedded_voc_root, [('CAM', cam)], tmp_path / 'b', ids=['val_0001'])
    with pytest.raises(ValueError, match='3 seed thresholds for 1 class-map folders'):
        run(embedded_voc_root, [('CAM', cam)], tmp_path / 'c', ids=ids, thresholds=[0.1, 0.2, 0.3])
    small = write_maps(str(tmp_path / 'small'), {ids[0]: ([0], np.ones((1, 32, 32)))})
    with pytest.raises(ValueError, match=r'maps of size \(32, 32\) but image .* is \(128, 128\)'):
        run(embedded_voc_root, [('CAM', small)], tmp_path / 'd', ids=ids[:1])
