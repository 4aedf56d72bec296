"""Label PNGs: VOC's palette, palette-mode files read back exactly, value checks and errors naming the file."""
import os

import numpy as np
import pytest
from PIL import Image

from advcam_mm.fileio.label_png import (label_png_path, load_label_png, remove_stale_temp_files, save_label_png,
                                        validate_label_map, voc_palette)


def test_voc_palette_known_colours():
    palette = voc_palette()
    assert len(palette) == 256
    assert palette[0] == [0, 0, 0] and palette[1] == [128, 0, 0] and palette[2] == [0, 128, 0]
    assert palette[3] == [128, 128, 0] and palette[15] == [192, 128, 128]  # person
    assert palette[255] == [224, 224, 192]  # VOC's void border
    assert voc_palette(5) == palette[:5]


def test_round_trip_as_palette_png(tmp_path):
    label = np.array([[0, 1, 2], [20, 255, 0]], np.int64)
    path = label_png_path(str(tmp_path), 'x')
    save_label_png(path, label)
    with Image.open(path) as image:
        assert image.mode == 'P' and image.getpalette()[3:6] == [128, 0, 0]
    loaded = load_label_png(path)
    assert loaded.dtype == np.uint8 and loaded.tolist() == label.tolist()
    assert load_label_png(path, num_classes=21).tolist() == label.tolist()


def test_bad_labels_and_files_are_named(tmp_path):
    with pytest.raises(ValueError, match=r'x.png: a label map must be \(H, W\)'):
        save_label_png(str(tmp_path / 'x.png'), np.zeros((2, 2, 3)))
    with pytest.raises(ValueError, match=r'x.png: label values must lie in \[0, 255\]'):
        save_label_png(str(tmp_path / 'x.png'), np.array([[0, 300]]))
    with pytest.raises(FileNotFoundError, match='missing.png: ground-truth mask not found'):
        load_label_png(str(tmp_path / 'missing.png'), 'ground-truth mask')
    (tmp_path / 'broken.png').write_bytes(b'not a png')
    with pytest.raises(ValueError, match='broken.png: unreadable pseudo mask'):
        load_label_png(str(tmp_path / 'broken.png'), 'pseudo mask')
    Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(tmp_path / 'colour.png')
    with pytest.raises(ValueError, match='colour.png: label map must be a single-channel class-index PNG'):
        load_label_png(str(tmp_path / 'colour.png'))
    Image.fromarray(np.array([[0, 4, 255]], np.uint8)).save(tmp_path / 'foreign.png')
    with pytest.raises(ValueError, match=r'foreign.png has values \[4\] outside the class indices 0..2'):
        load_label_png(str(tmp_path / 'foreign.png'), 'mask', num_classes=3)
    assert validate_label_map(np.array([[0, 2, 255]]), 3, 'ok.png').tolist() == [0, 2, 255]


def test_only_the_temporary_files_of_the_given_outputs_are_removed(tmp_path):
    for name in ('a.png.k1ll3d.tmp', 'b.png.x9.tmp', 'a.png', 'notes.tmp'):
        (tmp_path / name).write_bytes(b'')
    removed = remove_stale_temp_files(str(tmp_path), [label_png_path(str(tmp_path), 'a')])
    assert removed == 1 and sorted(os.listdir(tmp_path)) == ['a.png', 'b.png.x9.tmp', 'notes.tmp']
    assert remove_stale_temp_files(str(tmp_path / 'none'), ['x.png']) == 0
