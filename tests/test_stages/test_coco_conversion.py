"""The COCO conversion stage: masks vs a per-pixel rasterisation, labels, a killed run resumed, refusals,
the dataset identity it gives later stages, errors naming the file."""
import json
import os
import os.path as osp
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from pycocotools.coco import COCO

from advcam_mm.datasets.coco_annotations import COCOAnnotationError, label_of_category
from advcam_mm.datasets.coco_metainfo import COCO_CATEGORIES, SPLITS
from advcam_mm.fileio.manifest import MANIFEST_NAME
from advcam_mm.stages.coco_conversion import convert_coco, parse_args, status
from advcam_mm.stages.output_folder import StageMismatchError
from conftest import REPO_ROOT, tool_env


def _ids(root, split):
    with open(osp.join(root, 'ImageSets', f'{split}.txt')) as f:
        return [line.strip() for line in f if line.strip()]


def _mask(root, split, image_id):
    return np.array(Image.open(osp.join(root, 'SegmentationClass', split, image_id + '.png')))


def _reference_mask(coco, image_id, label_of):
    """Per pixel, straight from the rule: the set of non-crowd classes, then crowd."""
    info = coco.imgs[image_id]
    height, width = info['height'], info['width']
    anns = coco.loadAnns(coco.getAnnIds(imgIds=[image_id]))
    masks = [(label_of[a['category_id']], a['iscrowd'], coco.annToMask(a).astype(bool)) for a in anns]
    out = np.zeros((height, width), np.uint8)
    for y in range(height):
        for x in range(width):
            classes = {value for value, iscrowd, m in masks if not iscrowd and m[y, x]}
            in_crowd = any(m[y, x] for _, iscrowd, m in masks if iscrowd)
            if len(classes) == 1:
                out[y, x] = classes.pop()
            elif len(classes) > 1 or in_crowd:
                out[y, x] = 255
    return out


@pytest.mark.parametrize('split', SPLITS)
def test_masks_equal_a_per_pixel_rasterisation(coco_miniature_root, split):
    coco = COCO(osp.join(coco_miniature_root, 'annotations', f'instances_{split}.json'))
    label_of = label_of_category([(c['id'], c['name']) for c in coco.loadCats(coco.getCatIds())])
    crowd_pixels = overlap_pixels = 0
    shapes = set()
    for image_id in sorted(coco.getImgIds()):
        name = osp.splitext(coco.imgs[image_id]['file_name'])[0]
        if not coco.getAnnIds(imgIds=[image_id]):
            assert name not in _ids(coco_miniature_root, split)
            continue
        mask = _mask(coco_miniature_root, split, name)
        np.testing.assert_array_equal(mask, _reference_mask(coco, image_id, label_of), err_msg=name)
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[image_id]))
        crowd_pixels += sum(int(coco.annToMask(a).sum()) for a in anns if a['iscrowd'])
        coverage = sum(coco.annToMask(a).astype(int) for a in anns if not a['iscrowd'])
        overlap_pixels += int((np.asarray(coverage) > 1).sum())
        shapes.add(mask.shape[0] > mask.shape[1])
    # the miniature exercises the rule: crowds, overlaps, landscape and portrait images
    assert crowd_pixels > 0 and overlap_pixels > 0 and shapes == {True, False}


def test_labels_file_and_split_lists(coco_miniature_root):
    stored = np.load(osp.join(coco_miniature_root, 'cls_labels_coco.npy'), allow_pickle=True).item()
    listed = []
    for split in SPLITS:
        coco = COCO(osp.join(coco_miniature_root, 'annotations', f'instances_{split}.json'))
        label_of = label_of_category([(c['id'], c['name']) for c in coco.loadCats(coco.getCatIds())])
        with_labels = [i for i in sorted(coco.getImgIds()) if coco.getAnnIds(imgIds=[i])]
        assert len(with_labels) == len(coco.getImgIds()) - 1  # the miniature's unlabelled image is left out
        ids = [osp.splitext(coco.imgs[i]['file_name'])[0] for i in with_labels]
        assert _ids(coco_miniature_root, split) == ids
        for coco_id, name in zip(with_labels, ids):
            expected = np.zeros(80, np.float32)
            for ann in coco.loadAnns(coco.getAnnIds(imgIds=[coco_id])):  # crowds count as present
                expected[label_of[ann['category_id']] - 1] = 1
            assert stored[name].dtype == np.float32
            np.testing.assert_array_equal(stored[name], expected, err_msg=name)
            in_mask = {int(v) for v in np.unique(_mask(coco_miniature_root, split, name))} - {0, 255}
            assert in_mask <= {int(k) + 1 for k in np.flatnonzero(expected)}
        listed += ids
    assert sorted(stored) == sorted(listed)


def _inputs_copy(root, tmp_path):
    """The miniature's inputs (images, annotations) only, in a writable folder."""
    copy = tmp_path / 'coco'
    for name in ('annotations', 'train2014', 'val2014'):
        shutil.copytree(osp.join(root, name), copy / name)
    return str(copy)


KILL_AFTER_FIVE_MASKS = """
import os, signal, sys
from advcam_mm.stages import coco_conversion as stage
save, written = stage.save_label_png, []
def save_then_die(path, mask):
    save(path, mask)
    written.append(path)
    if len(written) == 5:
        os.kill(os.getpid(), signal.SIGKILL)
stage.save_label_png = save_then_die
stage.convert_coco(sys.argv[1], splits=['train2014'], num_workers=1)
"""


def _split_manifest(root, split):
    return json.load(open(osp.join(root, 'SegmentationClass', split, MANIFEST_NAME)))


def test_resumes_after_a_kill_with_identical_results(coco_miniature_root, tmp_path):
    root = _inputs_copy(coco_miniature_root, tmp_path)
    killed = subprocess.run([sys.executable, '-c', KILL_AFTER_FIVE_MASKS, root], cwd=REPO_ROOT, env=tool_env(),
                            capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert _split_manifest(root, 'train2014')['status'] == 'incomplete'
    assert not osp.exists(osp.join(root, 'ImageSets', 'train2014.txt'))  # the list comes last
    mask_dir = osp.join(root, 'SegmentationClass', 'train2014')
    done = [n for n in os.listdir(mask_dir) if n.endswith('.png')]
    assert len(done) == 5
    pending = next(i for i in _ids(coco_miniature_root, 'train2014') if i + '.png' not in done)
    stale = osp.join(mask_dir, f'{pending}.png.abc123.tmp')  # as a kill mid-write leaves
    open(stale, 'wb').write(b'half a png')
    result = convert_coco(root, splits=['train2014'], num_workers=2)['train2014']
    assert result['plan'] == 'resume' and result['written'] == 23 - 5 and result['skipped'] == 5
    assert not osp.exists(stale)
    assert _split_manifest(root, 'train2014')['status'] == 'complete'
    for name in _ids(coco_miniature_root, 'train2014'):
        assert open(osp.join(mask_dir, name + '.png'), 'rb').read() == open(
            osp.join(coco_miniature_root, 'SegmentationClass', 'train2014', name + '.png'), 'rb').read()
    # a later run for the other split keeps both splits' labels in the one file
    convert_coco(root, splits=['val2014'], num_workers=1)
    assert np.load(osp.join(root, 'cls_labels_coco.npy'), allow_pickle=True).item().keys() == \
        np.load(osp.join(coco_miniature_root, 'cls_labels_coco.npy'), allow_pickle=True).item().keys()


def test_rerun_skips_and_other_settings_are_refused(coco_miniature_root, tmp_path):
    root = _inputs_copy(coco_miniature_root, tmp_path)
    args = parse_args(['--data-root', root, '--splits', 'val2014'])
    assert status(args) == 'todo'
    convert_coco(root, splits=['val2014'], num_workers=1)
    assert status(args) == 'complete'
    assert status(parse_args(['--data-root', root])) == 'todo'  # train2014 is not converted
    again = convert_coco(root, splits=['val2014'], num_workers=1)['val2014']
    assert again['plan'] == 'reuse' and again['written'] == 0 and again['skipped'] == 11
    forced = convert_coco(root, splits=['val2014'], num_workers=1, force=True)['val2014']
    assert forced['plan'] == 'regenerate' and forced['written'] == 11
    json_path = osp.join(root, 'annotations', 'instances_val2014.json')
    content = json.load(open(json_path))
    content['annotations'][0]['category_id'] = 1 if content['annotations'][0]['category_id'] != 1 else 90
    json.dump(content, open(json_path, 'w'))
    with pytest.raises(StageMismatchError) as info:
        convert_coco(root, splits=['val2014'], num_workers=1)
    message = str(info.value)
    assert osp.join('SegmentationClass', 'val2014') in message and 'inputs.annotations.sha256' in message
    assert '--regenerate' in message
    assert _split_manifest(root, 'val2014')['status'] == 'complete'  # the refusal touched nothing
    replaced = convert_coco(root, splits=['val2014'], num_workers=1, regenerate=True)['val2014']
    assert replaced['plan'] == 'regenerate' and replaced['written'] == 11
    changed = content['annotations'][0]
    name = next(osp.splitext(i['file_name'])[0] for i in content['images'] if i['id'] == changed['image_id'])
    labels = np.load(osp.join(root, 'cls_labels_coco.npy'), allow_pickle=True).item()
    assert labels[name][label_of_category(COCO_CATEGORIES)[changed['category_id']] - 1] == 1
    # masks that no manifest describes are neither adopted nor deleted, even when forced
    os.remove(osp.join(root, 'SegmentationClass', 'val2014', MANIFEST_NAME))
    for force in (False, True):
        with pytest.raises(StageMismatchError, match='holds 11 files .* but no stage_manifest.json'):
            convert_coco(root, splits=['val2014'], num_workers=1, force=force)
    assert len(os.listdir(osp.join(root, 'SegmentationClass', 'val2014'))) == 11


def test_each_split_is_the_identity_of_its_datasets(coco_miniature_root, tmp_path, mmseg_scope):
    """Later stages record the split's conversion: converting the other split leaves it; remaking it changes it."""
    from advcam_mm.stages.datasets import build_dataset, dataset_input
    root = _inputs_copy(coco_miniature_root, tmp_path)
    convert_coco(root, splits=['train2014'], num_workers=1)

    def identity(dataset_type):
        dataset = build_dataset(dict(type=dataset_type, data_root=root), 'train2014')
        return dataset_input(dataset)['manifest']
    first = identity('COCOClassificationDataset')
    assert first == _split_manifest(root, 'train2014')['digest'] == identity('COCOSegmentationDataset')
    convert_coco(root, splits=['val2014'], num_workers=1)
    assert identity('COCOClassificationDataset') == first
    json_path = osp.join(root, 'annotations', 'instances_train2014.json')
    content = json.load(open(json_path))
    content['annotations'] = content['annotations'][1:]
    json.dump(content, open(json_path, 'w'))
    convert_coco(root, splits=['train2014'], num_workers=1, regenerate=True)
    assert identity('COCOClassificationDataset') not in (None, first)


def _tiny_coco(tmp_path, annotations=None, images=None, categories=None):
    """A two-image COCO folder (val2014) with one annotation; parts replaceable to make it bad."""
    root = tmp_path / 'tiny'
    (root / 'val2014').mkdir(parents=True)
    (root / 'annotations').mkdir()
    images = images if images is not None else [dict(id=1, file_name='a.jpg', height=6, width=8),
                                                 dict(id=2, file_name='b.jpg', height=6, width=8)]
    for image in images:
        Image.fromarray(np.zeros((6, 8, 3), np.uint8)).save(root / 'val2014' / image['file_name'])
    annotations = annotations if annotations is not None else [
        dict(id=11, image_id=1, category_id=3, iscrowd=0, segmentation=[[1, 1, 5, 1, 5, 4, 1, 4]])]
    categories = categories if categories is not None else [dict(id=3, name='car'), dict(id=1, name='person')]
    json_path = root / 'annotations' / 'instances_val2014.json'
    json.dump(dict(images=images, annotations=annotations, categories=categories), open(json_path, 'w'))
    return str(root), str(json_path)


def test_tiny_folder_converts(tmp_path):
    root, _ = _tiny_coco(tmp_path)
    result = convert_coco(root, splits=['val2014'], num_workers=1)['val2014']
    assert result['images'] == 1 and result['excluded'] == 1 and result['plan'] == 'fresh'
    mask = _mask(root, 'val2014', 'a')
    assert mask.shape == (6, 8) and set(np.unique(mask).tolist()) == {0, 2}  # car is the 2nd smallest id


@pytest.mark.parametrize('bad, message', [
    (dict(annotations=[dict(id=11, image_id=7, category_id=3, segmentation=[[1, 1, 5, 1, 5, 4]])]),
     'annotation id 11 refers to image id 7, which is not in "images"'),
    (dict(annotations=[dict(id=12, image_id=1, category_id=5, segmentation=[[1, 1, 5, 1, 5, 4]])]),
     'annotation id 12 has category id 5, which is not in "categories"'),
    (dict(annotations=[dict(id=13, category_id=3, segmentation=[[1, 1, 5, 1, 5, 4]])]),
     'annotation id 13 has no image_id'),
    (dict(annotations=[dict(id=14, image_id=1, category_id=3, segmentation=[[1, 1, 5]])]),
     'annotation id 14 of image a.jpg: a polygon must list x, y pairs'),
    (dict(annotations=[dict(id=15, image_id=1, category_id=3, segmentation=dict(size=[6, 9], counts=[54]))]),
     'annotation id 15 of image a.jpg: RLE of size'),
    (dict(images=[dict(id=1, file_name='a.jpg', height=6, width=8), dict(id=1, file_name='b.jpg', height=6,
                                                                        width=8)]),
     'image id 1 / file b.jpg is listed twice'),
])
def test_bad_annotations_name_the_file_and_the_entry(tmp_path, bad, message):
    root, json_path = _tiny_coco(tmp_path, **bad)
    with pytest.raises(COCOAnnotationError) as info:
        convert_coco(root, splits=['val2014'], num_workers=1)
    assert json_path in str(info.value) and message in str(info.value)


def test_missing_or_mismatched_images_are_named(tmp_path):
    root, json_path = _tiny_coco(tmp_path)
    image = osp.join(root, 'val2014', 'a.jpg')
    Image.fromarray(np.zeros((7, 8, 3), np.uint8)).save(image)
    with pytest.raises(ValueError) as info:
        convert_coco(root, splits=['val2014'], num_workers=1)
    assert image in str(info.value) and json_path in str(info.value) and '8x7' in str(info.value)
    os.remove(image)
    with pytest.raises(FileNotFoundError) as info:
        convert_coco(root, splits=['val2014'], num_workers=1)
    assert image in str(info.value) and json_path in str(info.value)
    with pytest.raises(FileNotFoundError, match='instances_train2014.json: COCO annotation file not found'):
        convert_coco(root, splits=['train2014'], num_workers=1)
