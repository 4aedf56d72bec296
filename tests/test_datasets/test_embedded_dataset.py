"""The embedded dataset: VOC layout, determinism, idempotence, render_scene's contract, and the VOC figures it claims."""
import filecmp
import json
import os
import os.path as osp
import runpy
import sys

import numpy as np
import pytest
from PIL import Image

from advcam_mm.datasets.cls_labels import cls_labels_from_masks
from advcam_mm.datasets.embedded_dataset import (_PARTS, _TEXTURES, EMBEDDED_CLASSES, EMBEDDED_PALETTE,
                                                 IGNORE_INDEX, MANIFEST_NAME, add_void_border,
                                                 make_embedded_voc, render_scene, scene_statistics,
                                                 void_band_width)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _ids(root, split):
    with open(osp.join(root, 'ImageSets', 'Segmentation', split + '.txt')) as f:
        return [line.strip() for line in f if line.strip()]


@pytest.fixture(scope='module')
def scenes():
    """200 scenes of 128 px (two generator seeds), rendered once for the statistics tests."""
    return [render_scene(np.random.default_rng([seed, 0, index]), 128) for seed in (0, 1) for index in range(100)]


def test_layout_is_voc(embedded_voc_root):
    root = embedded_voc_root
    assert root.endswith(osp.join('VOCdevkit', 'VOC2012'))
    train, train_aug, val = _ids(root, 'train'), _ids(root, 'train_aug'), _ids(root, 'val')
    assert (len(train), len(train_aug), len(val)) == (60, 160, 40)
    assert set(train) <= set(train_aug) and not set(train_aug) & set(val)
    assert _ids(root, 'trainval') == train + val
    assert sorted(os.listdir(osp.join(root, 'JPEGImages'))) == sorted(i + '.jpg' for i in train_aug + val)
    assert sorted(os.listdir(osp.join(root, 'SegmentationClassAug'))) == sorted(i + '.png' for i in train_aug + val)
    assert sorted(os.listdir(osp.join(root, 'SegmentationClass'))) == sorted(i + '.png' for i in train + val)
    assert osp.isfile(osp.join(osp.dirname(osp.dirname(root)), 'README.txt'))
    image = Image.open(osp.join(root, 'JPEGImages', val[0] + '.jpg'))
    assert image.mode == 'RGB' and image.size == (128, 128)
    mask = Image.open(osp.join(root, 'SegmentationClass', val[0] + '.png'))
    assert mask.mode == 'P' and mask.size == (128, 128)
    assert np.array(mask.getpalette()[:3 * len(EMBEDDED_PALETTE)]).tolist() == sum(EMBEDDED_PALETTE, [])
    values = np.unique(np.concatenate([np.array(Image.open(osp.join(root, 'SegmentationClass', i + '.png'))).ravel()
                                       for i in train + val]))
    assert set(values.tolist()) == {0, 1, 2, 3, 4, 255}  # every class and VOC's void border
    # SegmentationClassAug: as VOC, identical to SegmentationClass where both exist, no void elsewhere
    assert filecmp.cmp(osp.join(root, 'SegmentationClass', train[0] + '.png'),
                       osp.join(root, 'SegmentationClassAug', train[0] + '.png'), shallow=False)
    aug_only = np.array(Image.open(osp.join(root, 'SegmentationClassAug', train_aug[-1] + '.png')))
    assert 255 not in aug_only


def test_cls_labels_match_masks(embedded_voc_root):
    root = embedded_voc_root
    ids = _ids(root, 'train_aug') + _ids(root, 'val')
    stored = np.load(osp.join(root, 'cls_labels.npy'), allow_pickle=True).item()
    derived = cls_labels_from_masks(osp.join(root, 'SegmentationClassAug'), ids, len(EMBEDDED_CLASSES))
    assert sorted(stored) == sorted(ids)
    for i in ids:
        assert stored[i].dtype == np.float32 and stored[i].shape == (4,)
        np.testing.assert_array_equal(stored[i], derived[i])
    labels = np.stack([stored[i] for i in ids])
    assert labels.sum(1).min() >= 1
    assert labels.sum(0).min() >= 0.2 * len(ids)  # no class is rare


def test_manifest_records_the_statistics(embedded_voc_root):
    with open(osp.join(embedded_voc_root, MANIFEST_NAME)) as f:
        manifest = json.load(f)
    stats = manifest['statistics']
    assert set(stats) >= {'classes_per_image', 'objects_per_image', 'foreground_fraction'}
    readme = open(osp.join(osp.dirname(osp.dirname(embedded_voc_root)), 'README.txt')).read()
    assert f"{stats['objects_per_image']:.2f}" in readme and 'VOC' in readme


def test_render_scene_contract():
    scene = render_scene(np.random.default_rng([5, 0, 3]), 96)
    image, label, instances = scene['image'], scene['label'], scene['instances']
    assert image.dtype == np.uint8 and image.shape == (96, 96, 3)
    assert label.dtype == np.uint8 and label.shape == (96, 96)
    assert instances and all(set(i) == {'category', 'mask'} for i in instances)
    for instance in instances:
        assert isinstance(instance['category'], int) and 1 <= instance['category'] < len(EMBEDDED_CLASSES)
        assert instance['mask'].dtype == bool and instance['mask'].shape == (96, 96) and instance['mask'].any()
    painted = np.zeros_like(label)  # objects drawn in list order, later ones in front
    for instance in instances:
        painted[instance['mask']] = instance['category']
    np.testing.assert_array_equal(painted, label)
    again = render_scene(np.random.default_rng([5, 0, 3]), 96)
    np.testing.assert_array_equal(again['image'], image)


def test_statistics_follow_voc(scenes):
    """The figures the docstring claims beside VOC's (VOC: 1.56 classes, 2.38 objects per image)."""
    stats = scene_statistics([(s['label'], s['instances']) for s in scenes])
    assert 1.40 <= stats['classes_per_image'] <= 1.70
    assert 2.10 <= stats['objects_per_image'] <= 2.65
    assert 0.20 <= stats['foreground_fraction'] <= 0.35
    assert stats['occluded_fraction'] >= 0.08 and stats['truncated_fraction'] >= 0.25
    assert 5 <= stats['object_cells_p10'] and stats['object_cells_p90'] <= 20  # stride-4 cells at 128 px
    counts = np.bincount([len({i['category'] for i in s['instances']}) for s in scenes], minlength=5)
    assert counts[1] > counts[2] > counts[3] > 0  # most images hold one class, as in VOC


def test_parts_are_class_specific_and_small(scenes):
    """Part colours are far denser on objects of their class than anywhere else, and cover a small share."""
    near_part = {c: [] for c in _PARTS}
    own = own_area = other = other_area = 0
    for scene in scenes:
        image = scene['image'].astype(np.float32)
        for c, (colour, _) in _PARTS.items():
            near = np.linalg.norm(image - np.array(colour, np.float32), axis=2) < 50
            mine = scene['label'] == c
            own, own_area = own + int((near & mine).sum()), own_area + int(mine.sum())
            other, other_area = other + int((near & ~mine).sum()), other_area + int((~mine).sum())
            for instance in scene['instances']:
                visible = instance['mask'] & mine
                if instance['category'] == c and visible.sum() > 200:
                    near_part[c].append(near[visible].mean())
    # colourful clutter and bodies may come close to a part colour now and then (VOC-like distractors)
    assert own / own_area > 30 * other / other_area
    shares = np.concatenate([np.asarray(v) for v in near_part.values()])
    assert 0.04 < np.median(shares) < 0.2  # the part is a small share of the object
    assert 0.1 < np.mean(shares < 0.01) < 0.35  # on ~20 % of objects the part is hidden


def test_body_texture_is_the_class_family():
    """Bodies carry their class's texture: stripes vary along one direction only, checks along two."""
    def anisotropy(patch):
        gy, gx = np.gradient(patch.astype(np.float32))
        structure = np.array([[np.mean(gx * gx), np.mean(gx * gy)], [np.mean(gx * gy), np.mean(gy * gy)]])
        low, high = np.linalg.eigvalsh(structure)
        return low / high
    values = {family: [] for family in _TEXTURES.values()}
    for index in range(60):
        scene = render_scene(np.random.default_rng([2, 5, index]), 128)
        gray = scene['image'].mean(2)
        for instance in scene['instances']:
            visible = instance['mask'] & (scene['label'] == instance['category'])
            ys, xs = np.nonzero(visible)
            if len(ys) < 900:
                continue
            cy, cx = int(np.median(ys)), int(np.median(xs))
            patch = gray[max(cy - 8, 0):cy + 8, max(cx - 8, 0):cx + 8]
            if patch.shape == (16, 16) and visible[max(cy - 8, 0):cy + 8, max(cx - 8, 0):cx + 8].all():
                values[_TEXTURES[instance['category']]].append(anisotropy(patch))
    assert np.median(values['stripes']) < 0.5 * np.median(values['checks'])


@pytest.mark.parametrize('size,width', [(128, 1), (250, 2), (500, 5)])
def test_void_band_is_vocs_width_scaled(size, width):
    assert void_band_width(size) == width
    label = np.zeros((40, 40), np.uint8)
    label[10:30, 10:30] = 2
    voided = add_void_border(label, width)
    row = voided[20]  # a horizontal cut through the square's left edge: the band is `width` px wide
    assert int((row[:20] == IGNORE_INDEX).sum()) == width
    assert (voided[label == 2] != 0).all() and (voided[label == 0] != 2).all()


def test_generator_is_deterministic(tmp_path):
    kwargs = dict(num_train=6, num_val=3, num_train_subset=2, image_size=96)
    a = make_embedded_voc(str(tmp_path / 'a'), seed=3, **kwargs)
    b = make_embedded_voc(str(tmp_path / 'b'), seed=3, **kwargs)
    c = make_embedded_voc(str(tmp_path / 'c'), seed=4, **kwargs)
    files = sorted(osp.relpath(osp.join(d, f), a) for d, _, fs in os.walk(a) for f in fs)
    assert len(files) == 9 + 9 + 5 + 4 + 2  # jpg, aug png, png (train+val), 4 splits, labels + manifest
    for f in files:
        assert filecmp.cmp(osp.join(a, f), osp.join(b, f), shallow=False), f
    assert not filecmp.cmp(osp.join(a, 'JPEGImages', 'val_0000.jpg'), osp.join(c, 'JPEGImages', 'val_0000.jpg'),
                           shallow=False)


def test_generator_is_idempotent_and_guards_foreign_folders(tmp_path):
    kwargs = dict(num_train=4, num_val=2, image_size=64)
    root = make_embedded_voc(str(tmp_path), **kwargs)
    manifest = osp.join(root, MANIFEST_NAME)
    stamp = os.stat(manifest).st_mtime_ns
    assert make_embedded_voc(str(tmp_path), **kwargs) == root
    assert os.stat(manifest).st_mtime_ns == stamp  # complete: nothing rewritten
    os.remove(osp.join(root, 'JPEGImages', 'train_0001.jpg'))  # incomplete: regenerated
    make_embedded_voc(str(tmp_path), **kwargs)
    assert osp.isfile(osp.join(root, 'JPEGImages', 'train_0001.jpg'))
    make_embedded_voc(str(tmp_path), **dict(kwargs, num_val=3))  # other parameters: regenerated
    assert len(_ids(root, 'val')) == 3
    assert not [d for d in os.listdir(osp.dirname(root)) if d.endswith('.tmp')]

    foreign = tmp_path / 'foreign' / 'VOCdevkit' / 'VOC2012'
    foreign.mkdir(parents=True)
    (foreign / 'precious.txt').write_text('not generated')
    with pytest.raises(FileExistsError, match='not made by this generator'):
        make_embedded_voc(str(tmp_path / 'foreign'), **kwargs)
    assert (foreign / 'precious.txt').exists()
    make_embedded_voc(str(tmp_path / 'foreign'), force=True, **kwargs)
    assert not (foreign / 'precious.txt').exists() and (foreign / MANIFEST_NAME).exists()


def test_make_embedded_dataset_tool(tmp_path, monkeypatch, capsys):
    from advcam_mm.stages import embedded_data
    out = tmp_path / 'emb'
    argv = ['--out', str(out), '--num-train', '5', '--num-train-subset', '2', '--num-val', '2',
            '--image-size', '64', '--seed', '7']
    assert embedded_data.status(embedded_data.parse_args(argv)) == 'todo'
    monkeypatch.setattr(sys, 'argv', ['make_embedded_dataset.py', *argv])
    runpy.run_path(osp.join(REPO, 'tools', 'make_embedded_dataset.py'), run_name='__main__')
    stdout = capsys.readouterr().out
    root = osp.join(str(out), 'VOCdevkit', 'VOC2012')
    assert root in stdout and 'train_aug: 5' in stdout and 'val: 2' in stdout and 'per image:' in stdout
    with open(osp.join(root, MANIFEST_NAME)) as f:
        params = json.load(f)['params']
    assert params['num_train'] == 5 and params['seed'] == 7 and params['generator_version'] == 3
    assert embedded_data.status(embedded_data.parse_args(argv)) == 'complete'
    assert embedded_data.status(embedded_data.parse_args([*argv[:-1], '8'])) == 'todo'
    assert embedded_data.status(embedded_data.parse_args([*argv, '--force'])) == 'todo'


def test_concurrent_generation_is_safe(tmp_path):
    """Two callers at once (e.g. two distributed ranks) both get one complete dataset."""
    from concurrent.futures import ThreadPoolExecutor
    kwargs = dict(num_train=8, num_val=4, image_size=64)
    with ThreadPoolExecutor(2) as pool:
        roots = list(pool.map(lambda _: make_embedded_voc(str(tmp_path), **kwargs), range(2)))
    assert roots[0] == roots[1]
    assert len(os.listdir(osp.join(roots[0], 'JPEGImages'))) == 12
    assert not [d for d in os.listdir(osp.dirname(roots[0])) if d.endswith('.tmp')]
