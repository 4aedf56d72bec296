"""VOCSegmentationDataset: stock mmseg pipeline and IoUMetric, configurable mask folder, clear errors."""
import os
import os.path as osp
import shutil

import numpy as np
import pytest
from mmengine.structures import PixelData
from PIL import Image

import advcam_mm  # noqa: F401  (registers the components)
from advcam_mm.datasets.embedded_dataset import EMBEDDED_CLASSES
from mmseg.evaluation import IoUMetric
from mmseg.registry import DATASETS

STOCK_PIPELINE = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), dict(type='PackSegInputs')]
VAL = 'ImageSets/Segmentation/val.txt'


def _build(data_root, **kwargs):
    cfg = dict(type='VOCSegmentationDataset', data_root=data_root, ann_file=VAL,
               metainfo=dict(classes=EMBEDDED_CLASSES), pipeline=STOCK_PIPELINE)
    cfg.update(kwargs)
    return DATASETS.build(cfg)


def test_stock_pipeline_gives_iou_metric_compatible_samples(embedded_voc_root):
    dataset = _build(embedded_voc_root)
    assert len(dataset) == 40 and dataset.ignore_index == 255 and dataset.label_map is None
    metric = IoUMetric(iou_metrics=['mIoU'])
    metric.dataset_meta = dataset.metainfo
    outputs = []
    for index in range(4):
        packed = dataset[index]
        sample = packed['data_samples']
        assert packed['inputs'].shape == (3, 128, 128)
        assert sample.seg_map_path == osp.join(embedded_voc_root, 'SegmentationClassAug', f'val_{index:04d}.png')
        gt = sample.gt_sem_seg.data
        assert gt.shape == (1, 128, 128)
        np.testing.assert_array_equal(gt[0].numpy(), np.array(Image.open(sample.seg_map_path)))
        prediction = gt.clone()
        prediction[prediction == 255] = 0
        sample.pred_sem_seg = PixelData(data=prediction)
        outputs.append(sample.to_dict())
    metric.process({}, outputs)
    result = metric.compute_metrics(metric.results)
    assert result['mIoU'] == pytest.approx(100.0)


def test_mask_dir_outside_data_root(embedded_voc_root, tmp_path):
    pseudo = tmp_path / 'pseudo_labels'
    shutil.copytree(osp.join(embedded_voc_root, 'SegmentationClass'), pseudo)
    dataset = _build(embedded_voc_root, mask_dir=str(pseudo))
    assert dataset.get_data_info(0)['seg_map_path'] == str(pseudo / 'val_0000.png')
    assert dataset[0]['data_samples'].gt_sem_seg.data.shape == (1, 128, 128)
    relative = _build(embedded_voc_root, mask_dir='SegmentationClass')
    assert relative.get_data_info(0)['seg_map_path'] == osp.join(embedded_voc_root, 'SegmentationClass', 'val_0000.png')
    same = _build(embedded_voc_root, data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'))
    assert same.get_data_info(0)['seg_map_path'] == relative.get_data_info(0)['seg_map_path']
    with pytest.raises(ValueError, match='disagree'):
        _build(embedded_voc_root, mask_dir='A', data_prefix=dict(img_path='JPEGImages', seg_map_path='B'))


def test_metainfo_classes_name_mask_indices(embedded_voc_root):
    dataset = _build(embedded_voc_root)
    assert dataset.metainfo['palette'][:2] == [[0, 0, 0], [128, 0, 0]] and len(dataset.metainfo['palette']) == 5
    custom = _build(embedded_voc_root, metainfo=dict(classes=EMBEDDED_CLASSES, palette=[[1, 2, 3]] * 5))
    assert custom.metainfo['palette'][0] == [1, 2, 3]
    with pytest.raises(ValueError, match='palette has 2 colours but there are 5 classes'):
        _build(embedded_voc_root, metainfo=dict(classes=EMBEDDED_CLASSES, palette=[[0, 0, 0]] * 2))
    voc = DATASETS.get('VOCSegmentationDataset')
    assert len(voc.METAINFO['classes']) == 21 and len(voc.METAINFO['palette']) == 21


def test_missing_mask_listed_in_split(embedded_voc_copy):
    mask = osp.join(embedded_voc_copy, 'SegmentationClassAug', 'val_0004.png')
    os.remove(mask)
    with pytest.raises(FileNotFoundError) as info:
        _build(embedded_voc_copy)
    assert "'val_0004'" in str(info.value) and mask in str(info.value)
    with pytest.raises(FileNotFoundError, match='mask folder not found: .*no_such_folder'):
        _build(embedded_voc_copy, mask_dir='no_such_folder')


def test_missing_data_root_and_image(embedded_voc_copy, tmp_path):
    with pytest.raises(FileNotFoundError, match='data_root .*nowhere does not exist'):
        _build(str(tmp_path / 'nowhere'))
    image = osp.join(embedded_voc_copy, 'JPEGImages', 'val_0001.jpg')
    os.remove(image)
    with pytest.raises(FileNotFoundError) as info:
        _build(embedded_voc_copy)
    assert "'val_0001'" in str(info.value) and image in str(info.value)


@pytest.mark.parametrize('loader', ['LoadAnnotations', 'LoadVOCAnnotations'])
def test_mask_with_foreign_values_names_the_file(embedded_voc_copy, loader):
    path = osp.join(embedded_voc_copy, 'SegmentationClassAug', 'val_0002.png')
    mask = np.array(Image.open(path))
    mask[5:7, 5:7] = 21  # only 0..4 and 255 exist in a 5-class dataset
    Image.fromarray(mask).save(path)
    pipeline = [dict(type='LoadImageFromFile'), dict(type=loader), dict(type='PackSegInputs')]
    dataset = _build(embedded_voc_copy, pipeline=pipeline)
    dataset[1]  # other samples are fine
    with pytest.raises(ValueError) as info:
        dataset[2]
    message = str(info.value)
    assert path in message and '[21]' in message and '0..4' in message
