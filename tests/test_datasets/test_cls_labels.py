"""cls_labels.npy: IRN format round trip, labels derived from masks, and clear errors."""
import os.path as osp
import runpy
import sys

import numpy as np
import pytest
from PIL import Image

from advcam_mm.datasets.cls_labels import (cls_labels_from_masks, load_cls_labels, make_cls_labels_file,
                                           save_cls_labels)
from advcam_mm.fileio.label_png import validate_label_map

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _save_mask(path, array, palette=True):
    image = Image.fromarray(np.asarray(array, np.uint8))
    if palette:
        image = image.convert('P')
    image.save(path)


def test_roundtrip_keeps_ids_and_vectors(tmp_path):
    labels = {'2007_000032': np.array([1, 0, 0, 1], np.float32), 'b': [0, 1, 0, 0]}
    path = str(tmp_path / 'cls_labels.npy')
    save_cls_labels(path, labels)
    raw = np.load(path, allow_pickle=True).item()  # IRN reads it this way
    assert set(raw) == {'2007_000032', 'b'} and raw['b'].dtype == np.float32
    out = load_cls_labels(path, ['b', '2007_000032'], num_classes=5)
    np.testing.assert_array_equal(out, [[0, 1, 0, 0], [1, 0, 0, 1]])
    assert out.dtype == np.float32


def test_irn_integer_keys_are_accepted(tmp_path):
    path = str(tmp_path / 'irn.npy')
    np.save(path, {2007000032: np.eye(20, dtype=np.float32)[3]})  # IRN's own file keys ids as ints
    np.testing.assert_array_equal(load_cls_labels(path, ['2007_000032'], 21)[0], np.eye(20)[3])


def test_missing_id_names_file_and_id(tmp_path):
    path = str(tmp_path / 'cls_labels.npy')
    save_cls_labels(path, {'a': [1, 0]})
    with pytest.raises(ValueError) as info:
        load_cls_labels(path, ['a', 'img_042'], num_classes=3)
    assert path in str(info.value) and "'img_042'" in str(info.value) and 'no entry' in str(info.value)


def test_wrong_vector_length_names_file_id_and_lengths(tmp_path):
    path = str(tmp_path / 'cls_labels.npy')
    save_cls_labels(path, {'a': [1, 0, 0, 0]})
    with pytest.raises(ValueError) as info:
        load_cls_labels(path, ['a'], num_classes=21)
    message = str(info.value)
    assert path in message and "'a'" in message and 'length 4' in message and 'expected 20' in message


def test_invalid_files_are_reported(tmp_path):
    missing = str(tmp_path / 'nope.npy')
    with pytest.raises(FileNotFoundError, match='nope.npy'):
        load_cls_labels(missing, ['a'], 3)
    not_dict = str(tmp_path / 'array.npy')
    np.save(not_dict, np.zeros((2, 2)))
    with pytest.raises(ValueError, match='array.npy.*expected a pickled dict'):
        load_cls_labels(not_dict, ['a'], 3)
    garbage = tmp_path / 'garbage.npy'
    garbage.write_bytes(b'not numpy at all')
    with pytest.raises(ValueError, match='cannot read class label file .*garbage.npy'):
        load_cls_labels(str(garbage), ['a'], 3)
    bad_values = str(tmp_path / 'bad_values.npy')
    save_cls_labels(bad_values, {'a': [2.0, 0.0]})
    with pytest.raises(ValueError, match="bad_values.npy: id 'a' has values outside"):
        load_cls_labels(bad_values, ['a'], 3)


def test_labels_from_masks_known_answer(tmp_path):
    # classes present: 2 and 4 (0 = background, 255 = void are not classes)
    mask = np.zeros((8, 8), np.uint8)
    mask[1:3, 1:3] = 2
    mask[5, 5] = 4
    mask[0, :] = 255
    _save_mask(tmp_path / 'x.png', mask)
    _save_mask(tmp_path / 'y.png', np.zeros((4, 4)), palette=False)  # grayscale PNG also fine
    labels = cls_labels_from_masks(str(tmp_path), ['x', 'y'], num_classes=5)
    np.testing.assert_array_equal(labels['x'], [0, 1, 0, 1])
    np.testing.assert_array_equal(labels['y'], [0, 0, 0, 0])


def test_mask_with_foreign_values_names_the_file(tmp_path):
    mask = np.zeros((4, 4), np.uint8)
    mask[0, 0], mask[1, 1] = 7, 200
    _save_mask(tmp_path / 'bad.png', mask)
    with pytest.raises(ValueError) as info:
        cls_labels_from_masks(str(tmp_path), ['bad'], num_classes=5)
    message = str(info.value)
    assert osp.join(str(tmp_path), 'bad.png') in message and '[7, 200]' in message and '0..4' in message
    rgb = np.zeros((4, 4, 3), np.uint8)
    Image.fromarray(rgb).save(tmp_path / 'rgb.png')
    with pytest.raises(ValueError, match='rgb.png has shape .*colour-coded'):
        cls_labels_from_masks(str(tmp_path), ['rgb'], num_classes=5)
    with pytest.raises(FileNotFoundError, match='missing.png'):
        cls_labels_from_masks(str(tmp_path), ['missing'], num_classes=5)
    (tmp_path / 'corrupt.png').write_bytes(b'\x89PNG broken')
    with pytest.raises(ValueError, match='corrupt.png: unreadable mask'):
        cls_labels_from_masks(str(tmp_path), ['corrupt'], num_classes=5)


def test_validate_accepts_all_classes_and_void():
    mask = np.array([[0, 1, 20, 255]], np.uint8)
    assert validate_label_map(mask, 21, 'm.png').tolist() == [0, 1, 20, 255]
    with pytest.raises(ValueError, match=r'm.png has values \[21\]'):
        validate_label_map(mask + np.array([[0, 0, 1, 0]], np.uint8), 21, 'm.png')


def test_make_cls_labels_file_reproduces_embedded_labels(embedded_voc_copy):
    root = embedded_voc_copy
    shipped = np.load(osp.join(root, 'cls_labels.npy'), allow_pickle=True).item()
    out, labels = make_cls_labels_file(root, ['train_aug', 'val'], num_classes=5, out='rebuilt.npy')
    assert out == osp.join(root, 'rebuilt.npy')
    rebuilt = np.load(out, allow_pickle=True).item()
    assert rebuilt.keys() == shipped.keys()
    for key in shipped:
        np.testing.assert_array_equal(rebuilt[key], shipped[key])


def test_make_cls_labels_tool(embedded_voc_copy, tmp_path, monkeypatch, capsys):
    out = str(tmp_path / 'val_labels.npy')
    argv = ['make_cls_labels.py', '--data-root', embedded_voc_copy, '--splits', 'val', '--num-classes', '5',
            '--out', out]
    monkeypatch.setattr(sys, 'argv', argv)
    runpy.run_path(osp.join(REPO, 'tools', 'make_cls_labels.py'), run_name='__main__')
    stdout = capsys.readouterr().out
    assert 'wrote' in stdout and '40 images' in stdout
    assert len(np.load(out, allow_pickle=True).item()) == 40
