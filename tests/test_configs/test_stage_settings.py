"""Every experiment config gives its stages what they read: the paper's settings in one place, a valid hook."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from advcam_mm.stages.class_maps import label_generation_settings, recorded_settings
from advcam_mm.stages.ir_labels import ir_label_settings
from advcam_mm.stages.pseudo_masks import RANDOM_WALK_KEYS, pseudo_label_hook_cfg
from advcam_mm.stages.settings import config_settings, normalisation
from conftest import REPO_ROOT

CONFIGS = sorted(glob.glob(osp.join(REPO_ROOT, 'configs', 'advcam', '*.py')))


def role(path):
    return osp.basename(path).split('_')[0]


@pytest.mark.parametrize('config', CONFIGS, ids=osp.basename)
def test_config_gives_its_stages_their_settings(config):
    cfg = Config.fromfile(config)
    normalisation(cfg)  # every stage that runs a network reads mean/std from the model
    if 'coco14' in config:  # the WSSS papers score COCO's seeds and masks on train2014
        assert cfg.label_evaluation == dict(split='train2014', mask_dir='SegmentationClass/train2014')
    else:
        assert cfg.label_evaluation.split == 'train' and cfg.label_evaluation.mask_dir == 'SegmentationClass'
    if role(config) == 'cam':
        settings = label_generation_settings(cfg)
        assert settings['method'] == 'advcam' and settings['steps'] == 27 and settings['step_size'] == 0.08
        assert settings['mask_thresh'] == 0.5 and settings['mask_coef'] == 7.0 and settings['flip'] is True
    if role(config) == 'irnet':
        # AdvCAM's thresholds; on COCO ReCAM's (run_sample_coco.py)
        assert ir_label_settings(cfg) == dict(conf_fg_thres=0.35, conf_bg_thres=0.10 if 'coco14' in config else 0.15)
        # AdvCAM's walk; the embedded grid is 4.4x smaller than VOC's: 2^4 steps (_base_/embedded_scale.py)
        assert config_settings(cfg, 'random_walk', RANDOM_WALK_KEYS) == dict(
            beta=10, exp_times=4 if 'embedded' in config else 8, sem_seg_bg_thres=0.25, radius=5, cam_power=1.5)
    if role(config).startswith('deeplab'):
        hook = pseudo_label_hook_cfg(cfg, config)
        assert hook['refiner']['type'] == 'irn' and osp.isfile(hook['refiner']['config'])
        assert osp.isabs(cfg.train_dataloader.dataset.mask_dir)  # filled by the hook, read by the segmentor


def test_voc_scales_and_recorded_settings():
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'advcam', 'cam_r50_5ep_voc12aug.py'))
    settings = label_generation_settings(cfg)
    assert tuple(settings['scales']) == (1.0, 0.5, 1.5, 2.0)
    mean, std = normalisation(cfg)
    recorded = recorded_settings(settings, mean, std)
    assert 'max_batch' not in recorded and recorded['steps'] == 27  # memory only: not a setting of the maps
    cam = recorded_settings(label_generation_settings(cfg, method='cam'), mean, std)
    assert 'steps' not in cam and 'mask_coef' not in cam and cam['scales'] == recorded['scales']
    with pytest.raises(ValueError, match="label_generation.method must be one of"):
        label_generation_settings(cfg, method='gradcam')
    with pytest.raises(KeyError, match="unknown label_generation settings \\['stride'\\]"):
        label_generation_settings(cfg, stride=4)
    del cfg.label_generation['steps']
    with pytest.raises(KeyError, match='label_generation lacks steps'):
        label_generation_settings(cfg)
