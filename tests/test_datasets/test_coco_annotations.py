"""COCO annotations -> masks: the crowd/overlap rule on a hand-made case, category order, per-image errors."""
import itertools

import numpy as np
import pytest
from PIL import Image

from advcam_mm.datasets.coco_annotations import (COCOAnnotationError, check_image_size, image_semantic_mask,
                                                 label_of_category, semantic_mask)
from advcam_mm.datasets.coco_metainfo import COCO_CATEGORIES


def _square(shape, top, left, bottom, right):
    mask = np.zeros(shape, bool)
    mask[top:bottom, left:right] = True
    return mask


def test_semantic_mask_known_answer_in_any_order():
    shape = (4, 8)
    a = (1, 0, _square(shape, 0, 0, 3, 4))     # class 1
    b = (2, 0, _square(shape, 1, 2, 4, 6))     # class 2, overlaps a: ambiguous
    c = (1, 0, _square(shape, 0, 3, 2, 5))     # class 1 again, overlaps a (same class) and b
    crowd = (3, 1, _square(shape, 0, 5, 4, 8))  # crowd of class 3, overlaps b
    expected = np.array([[1, 1, 1, 1, 1, 255, 255, 255],
                         [1, 1, 255, 255, 255, 2, 255, 255],
                         [1, 1, 255, 255, 2, 2, 255, 255],
                         [0, 0, 2, 2, 2, 2, 255, 255]], np.uint8)
    for order in itertools.permutations([a, b, c, crowd]):
        np.testing.assert_array_equal(semantic_mask(4, 8, order), expected)


def test_category_ids_map_to_labels_in_sorted_order():
    assert label_of_category([(7, 'g'), (2, 'b'), (90, 'z')]) == {2: 1, 7: 2, 90: 3}
    coco = label_of_category(COCO_CATEGORIES)
    assert coco[1] == 1 and coco[13] == 12 and coco[90] == 80 and len(coco) == 80


def test_image_mask_from_polygon_and_rle_and_its_errors():
    image = dict(id='a', file_name='a.jpg', height=6, width=8)
    polygon = dict(id=1, category_id=3, iscrowd=0, segmentation=[[1, 1, 5, 1, 5, 4, 1, 4]])
    crowd = dict(id=2, category_id=1, iscrowd=1, segmentation=dict(size=[6, 8], counts=[42, 6]))  # last 6 pixels
    mask = image_semantic_mask(image, [polygon, crowd], {1: 1, 3: 2}, 'x.json')
    assert mask.shape == (6, 8) and set(np.unique(mask).tolist()) == {0, 2, 255}
    assert (mask.reshape(-1, order='F')[42:] == 255).all()  # RLE runs go down the columns
    bad = dict(polygon, id=14, segmentation=[[1, 1, 5]])
    with pytest.raises(COCOAnnotationError, match='x.json: annotation id 14 of image a.jpg: a polygon must'):
        image_semantic_mask(image, [bad], {3: 1}, 'x.json')


def test_image_size_check_names_both_files(tmp_path):
    path = str(tmp_path / 'a.jpg')
    Image.fromarray(np.zeros((7, 8, 3), np.uint8)).save(path)
    check_image_size(path, 7, 8, 'x.json')
    with pytest.raises(ValueError, match=r'a.jpg is 8x7 \(W x H\) but x.json gives 8x6'):
        check_image_size(path, 6, 8, 'x.json')
    with pytest.raises(FileNotFoundError, match='b.jpg: image listed in x.json not found'):
        check_image_size(str(tmp_path / 'b.jpg'), 6, 8, 'x.json')
