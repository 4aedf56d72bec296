"""The COCO-format miniature: COCO's JSON (three segmentation forms, crowds, gaps), determinism, idempotence."""
import filecmp
import json
import os
import os.path as osp

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from advcam_mm.datasets.coco_metainfo import COCO_CATEGORIES
from advcam_mm.datasets.coco_miniature import (CATEGORY_OF_EMBEDDED_CLASS, MANIFEST_NAME, make_coco_miniature,
                                               uncompressed_rle)


def test_json_has_coco_forms_crowds_and_unlabelled_images(coco_miniature_root):
    forms = set()
    for split, count in (('train2014', 24), ('val2014', 12)):
        content = json.load(open(osp.join(coco_miniature_root, 'annotations', f'instances_{split}.json')))
        assert [(c['id'], c['name']) for c in content['categories']] == list(COCO_CATEGORIES)
        assert len(content['images']) == count
        assert all(i['file_name'] == f'COCO_{split}_{i["id"]:012d}.jpg' for i in content['images'])
        annotated = {a['image_id'] for a in content['annotations']}
        assert len(annotated) == count - 1  # one image without any annotation, as COCO has
        for annotation in content['annotations']:
            segmentation = annotation['segmentation']
            form = 'polygon' if isinstance(segmentation, list) else (
                'uncompressed' if isinstance(segmentation['counts'], list) else 'compressed')
            forms.add((form, annotation['iscrowd']))
            assert annotation['category_id'] in CATEGORY_OF_EMBEDDED_CLASS.values()
        coco = COCO(osp.join(coco_miniature_root, 'annotations', f'instances_{split}.json'))  # loads with the API
        assert len(coco.getImgIds()) == count
    # objects as polygons and compressed RLE, crowds as uncompressed RLE (COCO's convention)
    assert forms == {('polygon', 0), ('compressed', 0), ('uncompressed', 1)}
    # the embedded classes land on COCO ids across the range, gaps included
    assert min(CATEGORY_OF_EMBEDDED_CLASS.values()) == 1 and max(CATEGORY_OF_EMBEDDED_CLASS.values()) == 90


def test_uncompressed_rle_decodes_to_the_mask():
    rng = np.random.default_rng(0)
    for shape in ((5, 7), (6, 3)):
        for first in (False, True):
            mask = rng.random(shape) < 0.4
            mask[0, 0] = first
            rle = uncompressed_rle(mask)
            decoded = mask_utils.decode(mask_utils.frPyObjects(rle, *shape)).astype(bool)
            np.testing.assert_array_equal(decoded, mask)


def test_deterministic_idempotent_and_careful_with_foreign_folders(tmp_path):
    first = make_coco_miniature(str(tmp_path / 'a'), num_train=4, num_val=3, seed=1)
    second = make_coco_miniature(str(tmp_path / 'b'), num_train=4, num_val=3, seed=1)
    for name in ('annotations/instances_train2014.json', 'annotations/instances_val2014.json',
                 'train2014/COCO_train2014_000000000016.jpg', MANIFEST_NAME):
        assert filecmp.cmp(osp.join(first, name), osp.join(second, name), shallow=False), name
    other = make_coco_miniature(str(tmp_path / 'c'), num_train=4, num_val=3, seed=2)
    assert not filecmp.cmp(osp.join(first, 'annotations/instances_train2014.json'),
                           osp.join(other, 'annotations/instances_train2014.json'), shallow=False)
    stamp = os.stat(osp.join(first, MANIFEST_NAME)).st_mtime_ns
    assert make_coco_miniature(first, num_train=4, num_val=3, seed=1) == first
    assert os.stat(osp.join(first, MANIFEST_NAME)).st_mtime_ns == stamp  # complete: left alone
    make_coco_miniature(first, num_train=5, num_val=3, seed=1)  # other arguments: regenerated
    assert len(os.listdir(osp.join(first, 'train2014'))) == 5
    foreign = tmp_path / 'foreign'
    foreign.mkdir()
    (foreign / 'mine.txt').write_text('not a miniature')
    with pytest.raises(FileExistsError, match='not made by this generator'):
        make_coco_miniature(str(foreign), num_train=2, num_val=2)
    make_coco_miniature(str(foreign), num_train=2, num_val=2, force=True)
    assert not (foreign / 'mine.txt').exists()
