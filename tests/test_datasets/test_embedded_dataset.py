"""The embedded dataset: VOC layout, determinism, idempotence, and the part/body design."""
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
from advcam_mm.datasets.embedded_dataset import (_PARTS, EMBEDDED_CLASSES, EMBEDDED_PALETTE, MANIFEST_NAME,
                                                 make_embedded_voc, render_image)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _ids(root, split):
    with open(osp.join(root, 'ImageSets', 'Segmentation', split + '.txt')) as f:
        return [line.strip() for line in f if line.strip()]


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
    assert labels.sum(1).min() >= 1 and labels.sum(1).max() <= 2
    assert (labels.sum(1) == 2).mean() > 0.1  # some images hold two classes
    assert labels.sum(0).min() >= 0.15 * len(ids)  # no class is rare


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


def test_objects_have_a_small_class_specific_part_and_a_shared_body():
    """The CAM gap by construction: part colours only on objects of their class, covering ~10-15 %."""
    fractions, foreign_hits = [], 0
    body_means = {c: [] for c in _PARTS}
    for index in range(40):
        image, label = render_image(np.random.default_rng([7, index]), 128)
        image = image.astype(np.float32)
        for c, (colour, _) in _PARTS.items():
            near = np.linalg.norm(image - np.array(colour, np.float32), axis=2) < 60
            obj = label == c
            foreign_hits += int((near & ~obj).sum())
            if obj.any():
                fractions.append(near[obj].mean())
                body_means[c].append(image[obj & ~near].mean(0))
    assert foreign_hits < 0.001 * 40 * 128 * 128  # part colours appear nowhere else
    assert 0.04 < np.median(fractions) < 0.2  # part is a small share of the labelled object
    # bodies: mean colours of different classes are much closer than their parts
    body_centres = np.stack([np.mean(body_means[c], 0) for c in _PARTS])
    part_colours = np.array([colour for colour, _ in _PARTS.values()], np.float32)
    spread = lambda x: np.linalg.norm(x[:, None] - x[None], axis=2).max()  # noqa: E731
    assert spread(body_centres) < 0.25 * spread(part_colours)


def test_make_embedded_dataset_tool(tmp_path, monkeypatch, capsys):
    from advcam_mm.stages import embedded_data
    out = tmp_path / 'emb'
    argv = ['--out', str(out), '--seed', '3']
    assert embedded_data.status(embedded_data.parse_args(argv)) == 'todo'
    monkeypatch.setattr(sys, 'argv', ['make_embedded_dataset.py', *argv])
    runpy.run_path(osp.join(REPO, 'tools', 'make_embedded_dataset.py'), run_name='__main__')
    root = osp.join(str(out), 'VOCdevkit', 'VOC2012')
    assert root in capsys.readouterr().out
    with open(osp.join(root, MANIFEST_NAME)) as f:
        params = json.load(f)['params']
    assert params['seed'] == 3 and params['num_train'] == 160 and params['num_val'] == 40
    assert embedded_data.status(embedded_data.parse_args(argv)) == 'complete'
    assert embedded_data.status(embedded_data.parse_args(['--out', str(out), '--seed', '4'])) == 'todo'
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
