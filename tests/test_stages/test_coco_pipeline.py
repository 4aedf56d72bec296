"""MS COCO 2014 through the pipeline's stages, by the tools, on the converted COCO-format miniature.

The COCO configs run as they are but for the network (the narrow ResNet-18 of
``configs/_base_/models/*_r18-w16.py``, trained from scratch, with COCO's 80 / 81
classes), miniature-sized crops and schedules of a few iterations; each is
written to the test's folder as one file, because the pseudo-label hook reads
its IRNet config by path. Settings of a run go through ``--cfg-options`` as a
user would give them. About two minutes on one thread.
"""
import json
import os.path as osp
import re

import numpy as np
import pytest
from mmengine.config import Config

from advcam_mm.datasets.cls_labels import read_cls_labels_file
from advcam_mm.datasets.coco_metainfo import COCO_CLASSES
from advcam_mm.fileio.cam_files import cam_file_path, load_cam_file
from advcam_mm.fileio.label_png import label_png_path, load_label_png
from advcam_mm.fileio.manifest import read_manifest
from advcam_mm.stages.training import checkpoint_of
from conftest import REPO_ROOT, run_tool

ADVCAM_CONFIGS = osp.join(REPO_ROOT, 'configs', 'advcam')
MODEL_BASES = osp.join(REPO_ROOT, 'configs', '_base_', 'models')
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def tiny_coco_config(path, coco_config, narrow_model, data_root, changes):
    """``configs/advcam/<coco_config>`` with the model of ``<narrow_model>`` (COCO's class count kept),
    every dataset on ``data_root`` and ``changes`` (dotted keys), written to ``path``."""
    cfg = Config.fromfile(osp.join(ADVCAM_CONFIGS, coco_config))
    model = Config.fromfile(osp.join(MODEL_BASES, narrow_model)).model
    if 'num_classes' in cfg.model:
        model.num_classes = cfg.model.num_classes
    if 'decode_head' in cfg.model:
        model.decode_head.num_classes = cfg.model.decode_head.num_classes
    cfg.model = model
    for loader in LOADERS:
        if cfg.get(loader):
            cfg[loader].update(num_workers=0, persistent_workers=False)
            cfg[loader].dataset.data_root = data_root
    cfg.merge_from_dict(changes)
    cfg.dump(str(path))
    return str(path)


def labels_of(root):
    """Image id -> the dataset class ids (1..80) of its image-level labels."""
    return {image_id: set((np.flatnonzero(vector) + 1).tolist())
            for image_id, vector in read_cls_labels_file(osp.join(root, 'cls_labels_coco.npy')).items()}


def train2014_ids(root):
    with open(osp.join(root, 'ImageSets', 'train2014.txt')) as f:
        return [line.strip() for line in f if line.strip()]


@pytest.fixture(scope='module')
def coco_chain(coco_miniature_root, tmp_path_factory):
    """Every tool of the recipe in order on the miniature; the folders and what each printed."""
    root, work = coco_miniature_root, tmp_path_factory.mktemp('coco_chain')
    out = {name: str(work / name) for name in ('classifier', 'maps', 'maps_float16', 'seeds', 'ir_labels',
                                               'irnet', 'pseudo_masks', 'masks_eval', 'deeplab', 'test')}
    configs = dict(
        classifier=tiny_coco_config(work / 'cam_coco.py', 'cam_r50_5ep_coco14.py', 'cam_r18-w16.py', root, {
            'model.data_preprocessor.size': (96, 96), 'train_dataloader.batch_size': 8,
            'train_dataloader.dataset.pipeline.1.min_long': 64, 'train_dataloader.dataset.pipeline.1.max_long': 112,
            'train_dataloader.dataset.pipeline.3.crop_size': 96, 'train_cfg.max_epochs': 2,
            'train_cfg.val_interval': 2, 'param_scheduler.0.end': 2, 'default_hooks.checkpoint.interval': 2,
            'default_hooks.logger.interval': 1}),
        irnet=tiny_coco_config(work / 'irnet_coco.py', 'irnet_r50_3ep_coco14.py', 'irnet_r18-w16.py', root, {
            'model.data_preprocessor.size': (96, 96), 'train_dataloader.batch_size': 8,
            'train_dataloader.dataset.pipeline.4.crop_size': 96, 'train_dataloader.dataset.mask_dir': out['ir_labels'],
            'train_cfg.max_epochs': 1, 'param_scheduler.0.end': 1, 'default_hooks.logger.interval': 1}),
        deeplab=tiny_coco_config(work / 'deeplab_coco.py', 'deeplabv2_r101_100k_coco14.py', 'deeplabv2_r18-w16.py',
                                 root, {
            'train_dataloader.batch_size': 4, 'train_dataloader.dataset.pipeline.3.crop_size': (96, 96),
            'train_dataloader.dataset.mask_dir': out['pseudo_masks'], 'train_cfg.max_iters': 4,
            'train_cfg.val_interval': 100, 'param_scheduler.0.end': 4, 'default_hooks.checkpoint.interval': 4,
            'default_hooks.logger.interval': 1}))
    printed = {}

    def tool(name, *args):
        result = run_tool(list(args), num_threads=1)
        printed[name] = result.stdout + result.stderr
        return printed[name]

    label_generation = ['label_generation.steps=2', 'label_generation.scales=(1.0,0.5)']
    tool('classifier', 'tools/train.py', configs['classifier'], '--work-dir', out['classifier'])
    classifier = checkpoint_of(out['classifier'])
    tool('maps', 'tools/make_cams.py', configs['classifier'], out['classifier'], '--split', 'train2014',
         '--out-dir', out['maps'], '--cfg-options', *label_generation)  # the config's storage: strided
    tool('maps_float16', 'tools/make_cams.py', configs['classifier'], out['classifier'], '--split', 'train2014',
         '--out-dir', out['maps_float16'], '--cfg-options', *label_generation, 'label_generation.storage=float16')
    tool('seeds', 'tools/eval_seeds.py', configs['classifier'], '--cam-dir', out['maps'], '--crf',
         '--out-dir', out['seeds'], '--num-workers', '1')
    tool('ir_labels', 'tools/cams_to_ir_labels.py', configs['irnet'], '--cam-dir', out['maps'], '--num-workers', '1')
    tool('irnet', 'tools/train.py', configs['irnet'], '--work-dir', out['irnet'], '--cfg-options',
         f'model.backbone.init_cfg.checkpoint={classifier}')
    hook = [f'custom_hooks.0.maps_dir={out["maps"]}', f'custom_hooks.0.refiner.config={configs["irnet"]}',
            f'custom_hooks.0.refiner.checkpoint={out["irnet"]}']
    tool('pseudo_masks', 'tools/make_pseudo_labels.py', configs['deeplab'], '--cfg-options', *hook)
    tool('masks_eval', 'tools/eval_masks.py', configs['deeplab'], '--mask-dir', out['pseudo_masks'],
         '--out-dir', out['masks_eval'], '--num-workers', '1')
    tool('deeplab', 'tools/train.py', configs['deeplab'], '--work-dir', out['deeplab'], '--cfg-options', *hook,
         f'model.backbone.init_cfg.checkpoint={classifier}')
    tool('test', 'tools/test.py', configs['deeplab'], checkpoint_of(out['deeplab']), '--work-dir', out['test'],
         '--cfg-options', *hook, 'model.test_cfg.crf.enabled=True')
    return dict(root=root, out=out, configs=configs, printed=printed)


def test_every_stage_left_a_complete_manifest(coco_chain):
    out = coco_chain['out']
    stages = dict(classifier='training', maps='class_maps', maps_float16='class_maps', seeds='seed_evaluation',
                  ir_labels='ir_labels', irnet='training', pseudo_masks='pseudo_masks',
                  masks_eval='mask_evaluation', deeplab='training', test='testing')
    for name, stage in stages.items():
        manifest = read_manifest(out[name])
        assert manifest is not None and (manifest['stage'], manifest['status']) == (stage, 'complete'), name
    # the stages that read train2014 record its conversion as the dataset's identity
    conversion = read_manifest(osp.join(coco_chain['root'], 'SegmentationClass', 'train2014'))['digest']
    for name in ('maps', 'ir_labels', 'pseudo_masks'):
        assert read_manifest(out[name])['inputs']['dataset']['manifest'] == conversion, name
    # the segmentor trained on the masks the hook found complete, and recorded them
    assert 'match the settings; reusing them' in coco_chain['printed']['deeplab']
    deeplab_inputs = read_manifest(out['deeplab'])['inputs']
    assert deeplab_inputs['masks_0']['manifest'] == read_manifest(out['pseudo_masks'])['digest']


def test_class_maps_of_every_image_in_both_storages(coco_chain):
    out, labels = coco_chain['out'], labels_of(coco_chain['root'])
    ids = train2014_ids(coco_chain['root'])
    assert read_manifest(out['maps'])['settings']['storage'] == 'strided'
    assert read_manifest(out['maps_float16'])['settings']['storage'] == 'float16'
    strided_bytes = float16_bytes = 0
    for image_id in ids:
        strided = load_cam_file(cam_file_path(out['maps'], image_id))
        full = load_cam_file(cam_file_path(out['maps_float16'], image_id))
        assert set((strided['keys'] + 1).tolist()) == labels[image_id]  # only the image's classes are stored
        np.testing.assert_array_equal(strided['keys'], full['keys'])
        stored = np.load(cam_file_path(out['maps'], image_id), allow_pickle=True).item()
        assert 'high_res' not in stored  # rebuilt at the image's size on read
        assert strided['high_res'].shape == full['high_res'].shape == (len(full['keys']), *stored['image_size'])
        np.testing.assert_allclose(strided['cam'], full['cam'], atol=2e-3)  # the same climb, float16 both
        strided_bytes += osp.getsize(cam_file_path(out['maps'], image_id))
        float16_bytes += osp.getsize(cam_file_path(out['maps_float16'], image_id))
    assert strided_bytes * 4 < float16_bytes


def test_evaluation_tables_name_coco_classes(coco_chain):
    out, printed = coco_chain['out'], coco_chain['printed']
    for name in ('seeds', 'masks_eval'):
        metrics = json.load(open(osp.join(out[name], 'metrics.json')))
        assert metrics['class_names'] == list(COCO_CLASSES) and metrics['num_images'] == 23
        assert 0 <= metrics['miou'] <= 1
    seeds = json.load(open(osp.join(out['seeds'], 'metrics.json')))
    assert seeds['crf_miou'] is not None
    for name in ('seeds', 'masks_eval', 'test'):  # the tables the tools print
        assert re.search(r'\btoothbrush\b', printed[name]) and re.search(r'\bhair drier\b', printed[name]), name
    test = json.load(open(osp.join(out['test'], 'metrics.json')))
    assert 0 <= test['mIoU'] <= 100
    assert 'Iter(test) [11/11]' in printed['test']  # val2014's 11 labelled images


@pytest.mark.parametrize('folder', ['ir_labels', 'pseudo_masks'])
def test_label_files_for_every_image_with_the_images_classes(coco_chain, folder):
    out, labels = coco_chain['out'], labels_of(coco_chain['root'])
    seen = set()
    for image_id in train2014_ids(coco_chain['root']):
        label = load_label_png(label_png_path(out[folder], image_id))
        values = set(np.unique(label).tolist())
        allowed = {0, 255} if folder == 'ir_labels' else {0}  # IR labels mark unsure pixels 255
        assert values <= allowed | labels[image_id], (image_id, values, labels[image_id])
        seen |= values - {0, 255}
    assert seen  # objects were labelled somewhere, within 1..80
    assert max(seen) <= 80


def test_trained_networks_have_coco_outputs(coco_chain):
    import torch
    out = coco_chain['out']

    def state(name):
        return torch.load(checkpoint_of(out[name]), map_location='cpu', weights_only=False)['state_dict']
    classifier = next(v for k, v in state('classifier').items() if k.startswith('classifier') and k.endswith('weight'))
    assert classifier.shape[0] == 80
    log = coco_chain['printed']['classifier']
    losses = [float(v) for v in re.findall(r'Epoch\(train\).*? loss: ([0-9.]+)', log)]
    assert len(losses) == 4 and np.isfinite(losses).all()  # 23 labelled images, batch 8: 2 iterations x 2 epochs
    assert re.search(r'Epoch\(val\) \[2\]\[11/11\].*mAP', log)  # validated on val2014's 11 labelled images
    heads = [v for k, v in state('deeplab').items() if k.startswith('decode_head') and k.endswith('weight')]
    assert heads and all(v.shape[0] == 81 for v in heads)
    losses = [float(v) for v in re.findall(r'Iter\(train\).*? loss: ([0-9.]+)', coco_chain['printed']['deeplab'])]
    assert len(losses) == 4 and np.isfinite(losses).all()


def test_coco_preset_of_the_pipeline(tmp_path):
    printed = run_tool(['tools/pipeline.py', '--preset', 'coco', '--work-dir', str(tmp_path), '--dry-run']).stdout
    for step in ('classifier', 'advcam maps', 'advcam seeds', 'advcam IR labels', 'advcam IRNet',
                 'advcam pseudo masks', 'advcam mask evaluation', 'advcam DeepLab-v2',
                 'advcam DeepLab-v2 test ms_flip_crf'):
        assert re.search(rf'^\[{step}\] python -m advcam_mm\.stages\.', printed, re.M), step
    assert 'CCT' not in printed  # COCO has no pixel-labelled subset for the semi-supervised setting


def test_coco_preset_labels_train2014_with_the_coco_configs(monkeypatch):
    from advcam_mm.stages.pipeline import Recipe, parse_args, recipe_from_args
    monkeypatch.chdir(REPO_ROOT)  # the presets name configs relative to the repository
    recipe = recipe_from_args(parse_args(['--preset', 'coco']))
    assert isinstance(recipe, Recipe) and recipe.label_split == 'train2014' and not recipe.backbones_from_classifier
    assert osp.basename(recipe.classifier_config) == 'cam_r50_5ep_coco14.py'
    assert osp.basename(recipe.irn_config) == 'irnet_r50_3ep_coco14.py'
    assert osp.basename(recipe.segmentor_config) == 'deeplabv2_r101_100k_coco14.py'
    options = recipe.irn_options('advcam')
    assert 'train_dataloader.dataset.split=train2014' in options
    assert f'train_dataloader.dataset.mask_dir={recipe.chain_path("advcam", "ir_labels")}' in options
