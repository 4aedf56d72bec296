"""IRN's classifier transforms, the multi-hot packer and the checked loaders."""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
from mmcv.transforms import LoadImageFromFile
from PIL import Image

import advcam_mm  # noqa: F401  (registers the components)
from advcam_mm.datasets.transforms import (IMAGENET_MEAN_BGR, ImageReadError, LoadImageWithCheck,
                                           LoadVOCAnnotations, PackMultiLabelInputs, RandomCropPad,
                                           RandomResizeLong, _jpeg_is_truncated)
from mmseg.datasets.transforms import LoadAnnotations, RandomFlip
from mmseg.registry import TRANSFORMS


def _results(h, w, seed=0):
    rng = np.random.default_rng(seed)
    mask = np.zeros((h, w), np.uint8)
    mask[h // 4:h // 2, w // 5:w // 2] = 3
    mask[-3:, -4:] = 255
    return dict(img=rng.integers(0, 256, (h, w, 3), dtype=np.uint8), gt_seg_map=mask, seg_fields=['gt_seg_map'],
                img_shape=(h, w), ori_shape=(h, w), gt_class_labels=np.array([0, 0, 1, 0], np.float32),
                img_path='x.jpg', img_id='x')


def test_registered():
    for name in ('RandomResizeLong', 'RandomCropPad', 'PackMultiLabelInputs', 'LoadImageWithCheck',
                 'LoadVOCAnnotations'):
        assert TRANSFORMS.get(name) is not None, name


def test_random_resize_long_range_ratio_and_interpolation():
    transform = RandomResizeLong(min_long=50, max_long=70)
    np.random.seed(1)
    longs = set()
    for _ in range(60):
        out = transform(_results(40, 30))
        h, w = out['img'].shape[:2]
        longs.add(h)
        assert 50 <= h <= 70 and w == round(30 * h / 40)
        assert out['gt_seg_map'].shape == (h, w) and out['img_shape'] == (h, w)
        assert set(np.unique(out['gt_seg_map']).tolist()) == {0, 3, 255}  # nearest: no new values
        assert out['scale_factor'] == pytest.approx((w / 30, h / 40))
    assert min(longs) <= 52 and max(longs) >= 68  # the whole range is used
    # the image is resized bicubically with PIL, as IRN's pil_rescale(order=3)
    np.random.seed(5)
    results = _results(40, 30)
    expected_long = np.random.RandomState(5).randint(50, 71)
    out = transform(copy.deepcopy(results))
    size = (round(30 * expected_long / 40), expected_long)
    expected = np.asarray(Image.fromarray(results['img']).resize(size, Image.BICUBIC))
    np.testing.assert_array_equal(out['img'], expected)
    with pytest.raises(ValueError):
        RandomResizeLong(min_long=10, max_long=5)


def _find_window(big, small):
    for y in range(big.shape[0] - small.shape[0] + 1):
        for x in range(big.shape[1] - small.shape[1] + 1):
            if np.array_equal(big[y:y + small.shape[0], x:x + small.shape[1]], small):
                return y, x
    return None


def test_random_crop_pad_larger_image_is_a_window():
    np.random.seed(0)
    results = _results(30, 40)
    out = RandomCropPad(crop_size=16)(copy.deepcopy(results))
    assert out['img'].shape == (16, 16, 3) and out['gt_seg_map'].shape == (16, 16)
    y, x = _find_window(results['img'], out['img'])
    np.testing.assert_array_equal(out['gt_seg_map'], results['gt_seg_map'][y:y + 16, x:x + 16])
    assert out['crop_bbox'] == (0, 16, 0, 16) and out['img_shape'] == (16, 16)
    # every position is reachable
    corners = set()
    for _ in range(300):
        o = RandomCropPad(crop_size=(28, 38))(copy.deepcopy(results))
        corners.add(_find_window(results['img'], o['img']))
    assert corners == {(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (2, 0), (2, 1), (2, 2)}


def test_random_crop_pad_smaller_image_is_padded_with_mean_and_ignore():
    np.random.seed(3)
    results = _results(10, 12)
    out = RandomCropPad(crop_size=20)(copy.deepcopy(results))
    y1, y2, x1, x2 = out['crop_bbox']
    assert (y2 - y1, x2 - x1) == (10, 12)
    np.testing.assert_array_equal(out['img'][y1:y2, x1:x2], results['img'])
    np.testing.assert_array_equal(out['gt_seg_map'][y1:y2, x1:x2], results['gt_seg_map'])
    outside = np.ones((20, 20), bool)
    outside[y1:y2, x1:x2] = False
    np.testing.assert_array_equal(out['img'][outside], np.round(IMAGENET_MEAN_BGR).astype(np.uint8)[None].repeat(
        outside.sum(), 0))
    assert (out['gt_seg_map'][outside] == 255).all()
    # mixed: taller than the crop, narrower than it
    mixed = RandomCropPad(crop_size=(8, 20), pad_val=0)(_results(30, 6))
    assert mixed['img'].shape == (8, 20, 3) and mixed['crop_bbox'][1] - mixed['crop_bbox'][0] == 8
    assert mixed['crop_bbox'][3] - mixed['crop_bbox'][2] == 6


def test_flip_keeps_image_and_mask_aligned():
    """Image colours encode the mask; after resize, flip and crop they must still agree."""
    palette = np.array([[10, 20, 30], [200, 40, 40], [40, 200, 40], [40, 40, 200]], np.uint8)
    mask = np.zeros((48, 64), np.uint8)
    mask[5:20, 3:30] = 1
    mask[25:45, 40:62] = 2
    mask[30:40, 5:15] = 3
    pipeline = [RandomResizeLong(60, 90), RandomFlip(prob=1.0), RandomCropPad(crop_size=70)]
    np.random.seed(0)
    for _ in range(5):
        results = dict(img=palette[mask].copy(), gt_seg_map=mask.copy(), seg_fields=['gt_seg_map'],
                       img_shape=mask.shape)
        for t in pipeline:
            results = t(results)
        assert results['flip'] is True
        valid = results['gt_seg_map'] != 255
        colour_class = np.argmin(np.abs(results['img'][..., None, :].astype(int) - palette.astype(int)).sum(-1), -1)
        assert (colour_class[valid] == results['gt_seg_map'][valid]).mean() > 0.97
        # and it really is mirrored: class 1 (left in the source) is now on the right
        ys, xs = np.nonzero(results['gt_seg_map'] == 1)
        ys2, xs2 = np.nonzero(results['gt_seg_map'] == 2)
        if len(xs) and len(xs2):
            assert xs.mean() > xs2.mean()


def test_pack_multi_label_inputs():
    results = _results(12, 16)
    results.update(flip=False, flip_direction=None)
    packed = PackMultiLabelInputs()(results)
    assert packed['inputs'].shape == (3, 12, 16) and packed['inputs'].dtype == torch.uint8
    np.testing.assert_array_equal(packed['inputs'].permute(1, 2, 0).numpy(), results['img'])
    sample = packed['data_samples']
    assert sample.gt_class_labels.dtype == torch.float32
    assert sample.gt_class_labels.tolist() == [0, 0, 1, 0]
    assert sample.gt_sem_seg.data.shape == (1, 12, 16) and sample.gt_sem_seg.data.dtype == torch.int64
    assert sample.img_id == 'x' and sample.img_path == 'x.jpg' and sample.flip is False
    assert sample.ori_shape == (12, 16)
    no_seg = _results(4, 4)
    del no_seg['gt_seg_map']
    assert 'gt_sem_seg' not in PackMultiLabelInputs()(no_seg)['data_samples']
    del no_seg['gt_class_labels']
    with pytest.raises(KeyError, match='x.jpg has no gt_class_labels'):
        PackMultiLabelInputs()(no_seg)


def test_load_image_with_check_matches_mmcv_and_names_bad_files(embedded_voc_root, tmp_path):
    path = osp.join(embedded_voc_root, 'JPEGImages', 'val_0000.jpg')
    ours = LoadImageWithCheck()(dict(img_path=path))
    stock = LoadImageFromFile()(dict(img_path=path))
    np.testing.assert_array_equal(ours['img'], stock['img'])
    assert ours['ori_shape'] == ours['img_shape'] == (128, 128)

    missing = str(tmp_path / 'missing.jpg')
    with pytest.raises(FileNotFoundError, match='image file not found: .*missing.jpg'):
        LoadImageWithCheck()(dict(img_path=missing))
    garbage = tmp_path / 'garbage.jpg'
    garbage.write_bytes(b'this is not a jpeg')
    with pytest.raises(ImageReadError, match='cannot decode image .*garbage.jpg'):
        LoadImageWithCheck()(dict(img_path=str(garbage)))
    data = open(path, 'rb').read()
    assert not _jpeg_is_truncated(data) and _jpeg_is_truncated(data[:-2])  # cv2 may decode these silently
    for cut in (2, len(data) // 3):
        truncated = tmp_path / f'truncated_{cut}.jpg'
        truncated.write_bytes(data[:-cut])
        with pytest.raises(ImageReadError, match=f'truncated_{cut}.jpg'):
            LoadImageWithCheck()(dict(img_path=str(truncated)))
        with pytest.raises(ImageReadError, match=f'truncated_{cut}.jpg'):
            LoadImageWithCheck(imdecode_backend='pillow')(dict(img_path=str(truncated)))


def test_load_voc_annotations_matches_stock_and_validates(embedded_voc_root, tmp_path):
    path = osp.join(embedded_voc_root, 'SegmentationClass', 'val_0002.png')  # holds class 4
    base = dict(seg_map_path=path, reduce_zero_label=False, seg_fields=[], num_classes=5)
    ours = LoadVOCAnnotations()(copy.deepcopy(base))
    stock = LoadAnnotations()(copy.deepcopy(base))
    np.testing.assert_array_equal(ours['gt_seg_map'], stock['gt_seg_map'])
    assert 255 in ours['gt_seg_map']

    with pytest.raises(ValueError, match=r'val_0002.png has values \[4\] outside the class indices 0..3'):
        LoadVOCAnnotations(num_classes=4)(copy.deepcopy(base))  # mask holds class 4 of 5
    rgb = tmp_path / 'rgb.png'
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(rgb)
    with pytest.raises(ValueError, match='rgb.png has shape'):
        LoadVOCAnnotations()(dict(base, seg_map_path=str(rgb)))
    with pytest.raises(FileNotFoundError, match='mask file not found: .*nope.png'):
        LoadVOCAnnotations()(dict(base, seg_map_path=str(tmp_path / 'nope.png')))
    broken = tmp_path / 'broken.png'
    broken.write_bytes(b'\x89PNG\r\n\x1a\n broken')
    with pytest.raises(ImageReadError, match='cannot read mask .*broken.png'):
        LoadVOCAnnotations()(dict(base, seg_map_path=str(broken)))
