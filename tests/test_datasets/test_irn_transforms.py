"""IRNet's training data: RandomRescale and the IR-label segmentation pipeline of the IRN configs."""
import copy
import os

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

import advcam_mm  # noqa: F401  (registers the components)
from advcam_mm.datasets.irn_transforms import RandomRescale
from mmseg.registry import DATASETS, TRANSFORMS

REPO = os.path.join(os.path.dirname(__file__), '..', '..')


def _results(h, w, seed=0):
    rng = np.random.default_rng(seed)
    mask = np.zeros((h, w), np.uint8)
    mask[h // 4:h // 2, w // 5:w // 2] = 3
    mask[-3:, -4:] = 255
    return dict(img=rng.integers(0, 256, (h, w, 3), dtype=np.uint8), gt_seg_map=mask,
                seg_fields=['gt_seg_map'], img_shape=(h, w))


def test_random_rescale_factor_range_and_interpolation():
    assert TRANSFORMS.get('RandomRescale') is RandomRescale
    transform = RandomRescale(scale_range=(0.5, 1.5))
    np.random.seed(0)
    heights = []
    for _ in range(80):
        out = transform(_results(40, 60))
        h, w = out['img'].shape[:2]
        heights.append(h)
        assert 20 <= h <= 60 and abs(w / h - 1.5) < 0.1
        assert out['gt_seg_map'].shape == (h, w) and out['img_shape'] == (h, w)
        assert set(np.unique(out['gt_seg_map']).tolist()) <= {0, 3, 255}  # nearest: no new values
        assert out['scale_factor'] == pytest.approx((w / 60, h / 40))
    assert min(heights) <= 23 and max(heights) >= 57  # the whole range is used
    # one factor for image and label, drawn as IRN's random_scale; PIL bicubic / nearest as pil_rescale
    np.random.seed(7)
    factor = 0.5 + np.random.RandomState(7).random_sample() * 1.0
    results = _results(40, 60)
    out = transform(copy.deepcopy(results))
    size = (int(np.round(60 * factor)), int(np.round(40 * factor)))
    np.testing.assert_array_equal(out['img'], np.asarray(Image.fromarray(results['img']).resize(size, Image.BICUBIC)))
    np.testing.assert_array_equal(out['gt_seg_map'],
                                  np.asarray(Image.fromarray(results['gt_seg_map']).resize(size, Image.NEAREST)))
    with pytest.raises(ValueError, match='scale_range'):
        RandomRescale(scale_range=(1.5, 0.5))


def test_irn_config_pipeline_on_embedded_ir_labels(embedded_voc_root):
    cfg = Config.fromfile(os.path.join(REPO, 'configs', 'advcam', 'irnet_r18-w16_100ep_embedded.py'))
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    # the ground-truth folder stands in for an IR-label folder (same format: ids and 255)
    dataset_cfg.update(data_root=embedded_voc_root, mask_dir='SegmentationClassAug')
    dataset = DATASETS.build(dataset_cfg)
    assert len(dataset) == 160
    np.random.seed(1)
    for index in range(6):
        packed = dataset[index]
        assert packed['inputs'].shape == (3, cfg.crop_size, cfg.crop_size)  # the config's crop
        label = packed['data_samples'].gt_sem_seg.data
        assert label.shape == (1, cfg.crop_size, cfg.crop_size)
        assert set(label.unique().tolist()) <= {0, 1, 2, 3, 4, 255}
