"""COCOClassificationDataset / COCOSegmentationDataset on the converted COCO-format miniature."""
import os
import os.path as osp
import shutil

import numpy as np
import pytest
from mmengine.structures import PixelData
from PIL import Image

import advcam_mm  # noqa: F401  (registers the components)
from advcam_mm.datasets.coco_metainfo import COCO_CLASSES
from mmseg.evaluation import IoUMetric
from mmseg.registry import DATASETS

STOCK_PIPELINE = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), dict(type='PackSegInputs')]


def _ids(root, split):
    with open(osp.join(root, 'ImageSets', f'{split}.txt')) as f:
        return [line.strip() for line in f if line.strip()]


@pytest.mark.parametrize('split', ['train2014', 'val2014'])
def test_classification_samples_carry_the_split_images_and_labels(coco_miniature_root, split):
    dataset = DATASETS.build(dict(type='COCOClassificationDataset', data_root=coco_miniature_root, split=split))
    ids = _ids(coco_miniature_root, split)
    assert dataset.image_ids() == ids and len(ids) in (23, 11)
    assert dataset.metainfo['classes'] == COCO_CLASSES and len(dataset.metainfo['palette']) == 81
    info = dataset.get_data_info(0)
    assert info['img_path'] == osp.join(coco_miniature_root, split, ids[0] + '.jpg')
    assert info['gt_class_labels'].shape == (80, ) and info['gt_class_labels'].dtype == np.float32
    stored = np.load(osp.join(coco_miniature_root, 'cls_labels_coco.npy'), allow_pickle=True).item()
    np.testing.assert_array_equal(dataset.class_labels, np.stack([stored[i] for i in ids]))


def test_training_pipeline_packs_multi_hot_targets(coco_miniature_root):
    pipeline = [dict(type='LoadImageWithCheck'), dict(type='RandomResizeLong', min_long=64, max_long=96),
                dict(type='RandomFlip', prob=0.5), dict(type='RandomCropPad', crop_size=96),
                dict(type='PackMultiLabelInputs')]
    dataset = DATASETS.build(dict(type='COCOClassificationDataset', data_root=coco_miniature_root,
                                  pipeline=pipeline))
    packed = dataset[3]
    assert packed['inputs'].shape == (3, 96, 96)
    np.testing.assert_array_equal(packed['data_samples'].gt_class_labels.numpy(),
                                  dataset.get_data_info(3)['gt_class_labels'])


def test_segmentation_stock_pipeline_and_iou_metric(coco_miniature_root):
    dataset = DATASETS.build(dict(type='COCOSegmentationDataset', data_root=coco_miniature_root, split='val2014',
                                  pipeline=STOCK_PIPELINE))
    assert len(dataset) == 11 and dataset.ignore_index == 255 and dataset.num_classes == 81
    metric = IoUMetric(iou_metrics=['mIoU'])
    metric.dataset_meta = dataset.metainfo
    outputs = []
    for index in range(len(dataset)):
        packed = dataset[index]
        sample = packed['data_samples']
        assert sample.seg_map_path == osp.join(coco_miniature_root, 'SegmentationClass', 'val2014',
                                               dataset.image_ids()[index] + '.png')
        gt = sample.gt_sem_seg.data
        assert tuple(gt.shape[1:]) == tuple(packed['inputs'].shape[1:])  # non-square images stay aligned
        np.testing.assert_array_equal(gt[0].numpy(), np.array(Image.open(sample.seg_map_path)))
        prediction = gt.clone()
        prediction[prediction == 255] = 0
        sample.pred_sem_seg = PixelData(data=prediction)
        outputs.append(sample.to_dict())
    metric.process({}, outputs)
    assert metric.compute_metrics(metric.results)['mIoU'] == pytest.approx(100.0)


def test_pseudo_label_folder_as_mask_dir(coco_miniature_root, tmp_path):
    pseudo = tmp_path / 'pseudo'
    shutil.copytree(osp.join(coco_miniature_root, 'SegmentationClass', 'train2014'), pseudo)
    dataset = DATASETS.build(dict(type='COCOSegmentationDataset', data_root=coco_miniature_root,
                                  mask_dir=str(pseudo), pipeline=STOCK_PIPELINE))
    assert dataset.get_data_info(0)['seg_map_path'] == str(pseudo / (dataset.image_ids()[0] + '.png'))
    assert dataset.get_data_info(0)['img_path'].startswith(osp.join(coco_miniature_root, 'train2014'))


@pytest.fixture
def coco_copy(coco_miniature_root, tmp_path):
    copy = str(tmp_path / 'coco')
    shutil.copytree(coco_miniature_root, copy)
    return copy


@pytest.mark.parametrize('kind', ['image', 'mask'])
def test_missing_files_are_named_at_construction(coco_copy, kind):
    image_id = _ids(coco_copy, 'val2014')[2]
    path = (osp.join(coco_copy, 'val2014', image_id + '.jpg') if kind == 'image'
            else osp.join(coco_copy, 'SegmentationClass', 'val2014', image_id + '.png'))
    os.remove(path)
    with pytest.raises(FileNotFoundError) as info:
        DATASETS.build(dict(type='COCOSegmentationDataset', data_root=coco_copy, split='val2014'))
    assert repr(image_id) in str(info.value) and path in str(info.value)
    if kind == 'image':
        with pytest.raises(FileNotFoundError, match=repr(image_id)):
            DATASETS.build(dict(type='COCOClassificationDataset', data_root=coco_copy, split='val2014'))


def test_missing_label_and_data_root(coco_copy, tmp_path):
    from advcam_mm.datasets.cls_labels import read_cls_labels_file, save_cls_labels
    path = osp.join(coco_copy, 'cls_labels_coco.npy')
    labels = read_cls_labels_file(path)
    image_id = _ids(coco_copy, 'train2014')[4]
    del labels[image_id]
    save_cls_labels(path, labels)
    with pytest.raises(ValueError) as info:
        DATASETS.build(dict(type='COCOClassificationDataset', data_root=coco_copy))
    assert path in str(info.value) and repr(image_id) in str(info.value)
    with pytest.raises(FileNotFoundError, match='expected the COCO folder .*tools/convert_coco.py'):
        DATASETS.build(dict(type='COCOSegmentationDataset', data_root=str(tmp_path / 'nowhere')))


def test_mask_values_out_of_range_name_the_file(coco_copy):
    image_id = _ids(coco_copy, 'val2014')[1]
    path = osp.join(coco_copy, 'SegmentationClass', 'val2014', image_id + '.png')
    mask = np.array(Image.open(path))
    mask[:2, :2] = 81  # labels are 0..80 and 255
    Image.fromarray(mask).save(path)
    dataset = DATASETS.build(dict(type='COCOSegmentationDataset', data_root=coco_copy, split='val2014',
                                  pipeline=STOCK_PIPELINE))
    dataset[0]
    with pytest.raises(ValueError) as info:
        dataset[1]
    assert path in str(info.value) and '[81]' in str(info.value) and '0..80' in str(info.value)
