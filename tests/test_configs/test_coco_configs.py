"""The COCO 2014 configs: the peers' recipe values, and every dataset they name builds on the miniature."""
import copy
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

import advcam_mm  # noqa: F401  (registers the components)
from conftest import REPO_ROOT
from mmseg.registry import DATASETS

COCO_CONFIGS = sorted(glob.glob(osp.join(REPO_ROOT, 'configs', 'advcam', '*_coco14.py')))


def _config(name):
    return Config.fromfile(osp.join(REPO_ROOT, 'configs', 'advcam', name))


def test_there_is_a_config_per_stage():
    assert [osp.basename(c) for c in COCO_CONFIGS] == [
        'cam_r50_5ep_coco14.py', 'deeplabv2_r101_100k_coco14.py', 'irnet_r50_3ep_coco14.py']


def test_recipe_values():
    cam = _config('cam_r50_5ep_coco14.py')
    assert cam.model.num_classes == 80 and cam.model.backbone.depth == 50
    assert cam.train_dataloader.batch_size == 16 and cam.train_cfg.max_epochs == 5
    assert cam.optim_wrapper.optimizer.lr == 0.1 and cam.optim_wrapper.optimizer.weight_decay == 1e-4
    resize, crop = cam.train_dataloader.dataset.pipeline[1], cam.train_dataloader.dataset.pipeline[3]
    assert (resize.min_long, resize.max_long, crop.crop_size) == (320, 640, 512)
    irn = _config('irnet_r50_3ep_coco14.py')
    assert irn.train_dataloader.batch_size == 32 and irn.train_cfg.max_epochs == 3
    assert irn.ir_labels == dict(conf_fg_thres=0.35, conf_bg_thres=0.10)
    assert irn.train_dataloader.dataset.mask_dir.endswith(osp.join('work_dirs', 'ir_labels', 'coco14'))
    deeplab = _config('deeplabv2_r101_100k_coco14.py')
    assert deeplab.model.decode_head.num_classes == 81 and deeplab.model.backbone.depth == 101
    assert deeplab.train_cfg.max_iters == 100000 and deeplab.param_scheduler[0].end == 100000
    assert deeplab.train_dataloader.batch_size == 10 and deeplab.optim_wrapper.optimizer.lr == 2.5e-4
    hook = deeplab.custom_hooks[0]
    assert hook.type == 'AdvCAMPseudoLabelHook' and hook.maps_dir.endswith('coco14_train2014')
    assert hook.refiner.config.endswith('irnet_r50_3ep_coco14.py')


@pytest.mark.parametrize('config', COCO_CONFIGS, ids=osp.basename)
def test_datasets_build_on_the_miniature(config, coco_miniature_root):
    cfg = Config.fromfile(config)
    init_default_scope('mmseg')
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if loader not in cfg:
            continue
        dataset_cfg = copy.deepcopy(cfg[loader].dataset)
        assert dataset_cfg.data_root == 'data/coco2014'
        dataset_cfg.data_root = coco_miniature_root
        if 'mask_dir' in dataset_cfg:  # IR labels / pseudo masks do not exist yet: the ground truth stands in
            dataset_cfg.mask_dir = 'SegmentationClass/train2014'
        dataset = DATASETS.build(dataset_cfg)
        assert len(dataset) == (23 if dataset_cfg.split == 'train2014' else 11)
        sample = dataset[0]
        assert sample['inputs'].dim() == 3
        if 'gt_class_labels' in sample['data_samples']:
            assert sample['data_samples'].gt_class_labels.shape == (80, )
        else:
            assert sample['data_samples'].gt_sem_seg.data.max() <= 255
