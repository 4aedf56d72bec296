"""VOCClassificationDataset built through the mmseg registry on the embedded dataset."""
import os
import os.path as osp

import numpy as np
import pytest
import torch

import advcam_mm  # noqa: F401  (registers the components)
from advcam_mm.datasets.cls_labels import save_cls_labels
from advcam_mm.datasets.embedded_dataset import EMBEDDED_CLASSES
from mmseg.registry import DATASETS

TRAIN_PIPELINE = [
    dict(type='LoadImageWithCheck'),
    dict(type='RandomResizeLong', min_long=96, max_long=192),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomCropPad', crop_size=160),
    dict(type='PackMultiLabelInputs'),
]


def _build(data_root, **kwargs):
    cfg = dict(type='VOCClassificationDataset', data_root=data_root, metainfo=dict(classes=EMBEDDED_CLASSES))
    cfg.update(kwargs)
    return DATASETS.build(cfg)


def test_samples_carry_ids_paths_and_multi_hot_labels(embedded_voc_root):
    dataset = _build(embedded_voc_root)
    assert len(dataset) == 160
    assert dataset.metainfo['classes'] == EMBEDDED_CLASSES and len(dataset.metainfo['palette']) == 5
    stored = np.load(osp.join(embedded_voc_root, 'cls_labels.npy'), allow_pickle=True).item()
    info = dataset.get_data_info(3)
    assert info['img_id'] == 'train_0003'
    assert info['img_path'] == osp.join(embedded_voc_root, 'JPEGImages', 'train_0003.jpg')
    assert info['gt_class_labels'].dtype == np.float32 and info['gt_class_labels'].shape == (4,)
    assert info['reduce_zero_label'] is False and info['seg_fields'] == [] and 'seg_map_path' not in info
    labels = dataset.class_labels
    np.testing.assert_array_equal(labels, np.stack([stored[i] for i in dataset.image_ids()]))


def test_labels_derived_from_masks_equal_the_file(embedded_voc_root):
    from_file = _build(embedded_voc_root, ann_file='ImageSets/Segmentation/val.txt')
    from_masks = _build(embedded_voc_root, ann_file='ImageSets/Segmentation/val.txt', cls_labels_file=None,
                        mask_dir='SegmentationClassAug')
    np.testing.assert_array_equal(from_file.class_labels, from_masks.class_labels)
    assert from_masks.get_data_info(0)['seg_map_path'] == osp.join(
        embedded_voc_root, 'SegmentationClassAug', 'val_0000.png')
    with pytest.raises(ValueError, match='mask_dir'):
        _build(embedded_voc_root, cls_labels_file=None)


def test_training_pipeline_output(embedded_voc_root):
    dataset = _build(embedded_voc_root, pipeline=TRAIN_PIPELINE)
    np.random.seed(0)
    for index in (0, 7):
        packed = dataset[index]
        assert packed['inputs'].shape == (3, 160, 160) and packed['inputs'].dtype == torch.uint8
        sample = packed['data_samples']
        assert sample.img_id == dataset.get_data_info(index)['img_id']
        assert sample.ori_shape == (128, 128) and sample.img_shape == (160, 160)
        assert 'flip' in sample.metainfo
        assert sample.gt_class_labels.dtype == torch.float32
        np.testing.assert_array_equal(sample.gt_class_labels.numpy(), dataset.get_data_info(index)['gt_class_labels'])


def test_pipeline_with_masks_packs_gt_sem_seg(embedded_voc_root):
    pipeline = TRAIN_PIPELINE[:1] + [dict(type='LoadVOCAnnotations')] + TRAIN_PIPELINE[1:]
    dataset = _build(embedded_voc_root, ann_file='ImageSets/Segmentation/val.txt', mask_dir='SegmentationClassAug',
                     pipeline=pipeline)
    sample = dataset[0]['data_samples']
    assert sample.gt_sem_seg.data.shape == (1, 160, 160)
    present = set(np.unique(sample.gt_sem_seg.data.numpy()).tolist()) - {0, 255}
    assert present <= {k + 1 for k in np.flatnonzero(sample.gt_class_labels.numpy())}


def test_default_classes_are_voc():
    cls = DATASETS.get('VOCClassificationDataset')
    assert cls.METAINFO['classes'][0] == 'background' and len(cls.METAINFO['classes']) == 21


# ---- bad input: each error names the file and the problem ------------------------------------------

def test_missing_data_root(tmp_path):
    missing = str(tmp_path / 'no_such_VOC2012')
    with pytest.raises(FileNotFoundError) as info:
        _build(missing)
    assert missing in str(info.value) and 'does not exist' in str(info.value)


def test_missing_split_file(embedded_voc_root):
    with pytest.raises(FileNotFoundError) as info:
        _build(embedded_voc_root, ann_file='ImageSets/Segmentation/nope.txt')
    assert osp.join(embedded_voc_root, 'ImageSets/Segmentation/nope.txt') in str(info.value)


def test_missing_image_listed_in_split(embedded_voc_copy):
    image = osp.join(embedded_voc_copy, 'JPEGImages', 'train_0005.jpg')
    os.remove(image)
    with pytest.raises(FileNotFoundError) as info:
        _build(embedded_voc_copy)
    message = str(info.value)
    assert "'train_0005'" in message and image in message and 'train_aug.txt' in message


def test_cls_labels_missing_an_id(embedded_voc_copy):
    path = osp.join(embedded_voc_copy, 'cls_labels.npy')
    labels = np.load(path, allow_pickle=True).item()
    del labels['train_0009']
    save_cls_labels(path, labels)
    with pytest.raises(ValueError) as info:
        _build(embedded_voc_copy)
    assert path in str(info.value) and "'train_0009'" in str(info.value)


def test_cls_labels_with_wrong_vector_length(embedded_voc_root):
    # the embedded file has 4-class vectors; the default VOC class list needs 20
    with pytest.raises(ValueError) as info:
        DATASETS.build(dict(type='VOCClassificationDataset', data_root=embedded_voc_root))
    message = str(info.value)
    assert osp.join(embedded_voc_root, 'cls_labels.npy') in message
    assert "'train_0000'" in message and 'length 4' in message and 'expected 20' in message


def test_corrupt_image_is_named(embedded_voc_copy):
    path = osp.join(embedded_voc_copy, 'JPEGImages', 'train_0002.jpg')
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])  # truncated JPEG
    dataset = _build(embedded_voc_copy, pipeline=TRAIN_PIPELINE)
    with pytest.raises(OSError) as info:
        dataset[2]
    assert path in str(info.value) and ('truncated' in str(info.value) or 'corrupt' in str(info.value))


def test_mask_with_foreign_values_when_deriving_labels(embedded_voc_copy):
    from PIL import Image
    path = osp.join(embedded_voc_copy, 'SegmentationClassAug', 'val_0003.png')
    mask = np.array(Image.open(path))
    mask[0, 0] = 9
    Image.fromarray(mask).save(path)
    with pytest.raises(ValueError) as info:
        _build(embedded_voc_copy, ann_file='ImageSets/Segmentation/val.txt', cls_labels_file=None,
               mask_dir='SegmentationClassAug')
    assert path in str(info.value) and '[9]' in str(info.value)
