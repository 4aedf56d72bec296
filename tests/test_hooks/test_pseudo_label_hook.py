"""AdvCAMPseudoLabelHook: makes the training masks once, reuses them, refuses other settings, regenerates on request."""
import copy
import glob
import json
import os
import os.path as osp
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.config import Config

import advcam_mm  # noqa: F401  (registers the components)
from advcam_mm.apis.make_cams import read_rgb
from advcam_mm.apis.pseudo_labels import MANIFEST_NAME, MAPS_MANIFEST_NAME, PseudoLabelError, refiner_settings
from advcam_mm.apis.sem_seg_labels import DEFAULT_RANDOM_WALK, build_irnet, pseudo_mask_of_image
from advcam_mm.core.seeds import seed_with_crf, seeds_from_maps
from advcam_mm.datasets.embedded_dataset import EMBEDDED_CLASSES
from advcam_mm.fileio.cam_files import load_cam_file
from advcam_mm.fileio.label_png import load_label_png
from mmseg.registry import DATASETS, HOOKS, MODELS

NUM_IMAGES = 10


@pytest.fixture
def split_file(embedded_voc_root, tmp_path):
    """A short split list (the first train ids) so that the hook labels only a few images."""
    with open(osp.join(embedded_voc_root, 'ImageSets', 'Segmentation', 'train.txt')) as f:
        ids = [line.strip() for line in f if line.strip()][:NUM_IMAGES]
    path = tmp_path / 'small_split.txt'
    path.write_text('\n'.join(ids) + '\n')
    return str(path)


def make_dataset(data_root, split_file, label_dir):
    """The training dataset as the DeepLab configs build it: masks from the pseudo-label folder."""
    return DATASETS.build(dict(
        type='VOCSegmentationDataset', data_root=data_root, ann_file=split_file, mask_dir=label_dir,
        check_files=False, metainfo=dict(classes=EMBEDDED_CLASSES), pipeline=[]))


def make_hook(classifier, maps_dir, **kwargs):
    config, checkpoint = classifier
    settings = dict(type='AdvCAMPseudoLabelHook', classifier_config=config, classifier_checkpoint=checkpoint,
                    method='cam', refiner=dict(type='none', bg_threshold=0.15), maps_dir=maps_dir, device='cpu')
    settings.update(kwargs)
    return HOOKS.build(settings)


def mtimes(folder, pattern):
    return {p: os.stat(p).st_mtime_ns for p in glob.glob(osp.join(folder, pattern))}


@pytest.fixture
def folders(tmp_path):
    return str(tmp_path / 'labels'), str(tmp_path / 'maps')


def test_generates_once_then_reuses(trained_tiny_classifier, embedded_voc_root, split_file, folders, mmseg_scope):
    label_dir, maps_dir = folders
    dataset = make_dataset(embedded_voc_root, split_file, label_dir)
    first = make_hook(trained_tiny_classifier, maps_dir).make_labels(dataset)
    assert first['action'] == 'generated' and first['num_generated'] == NUM_IMAGES
    labels = mtimes(label_dir, '*.png')
    maps = mtimes(maps_dir, '*.npy')
    assert len(labels) == NUM_IMAGES and len(maps) == NUM_IMAGES
    # the files are what the dataset reads, and equal the seeds of the maps
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        label = load_label_png(info['seg_map_path'])
        cams = load_cam_file(osp.join(maps_dir, info['img_id'] + '.npy'))
        np.testing.assert_array_equal(label, seeds_from_maps(cams['high_res'], cams['keys'], 0.15))
        assert set(np.unique(label)) <= set(range(len(EMBEDDED_CLASSES)))
    with open(osp.join(label_dir, MANIFEST_NAME)) as f:
        manifest = json.load(f)
    assert manifest['status'] == 'complete'
    assert manifest['settings']['class_maps']['method'] == 'cam'
    assert manifest['settings']['refiner'] == dict(type='none', bg_threshold=0.15)
    assert manifest['sources']['classifier_checkpoint']['size'] == os.path.getsize(trained_tiny_classifier[1])
    assert list(manifest['splits'].values()) == [NUM_IMAGES]
    assert osp.isfile(osp.join(maps_dir, MAPS_MANIFEST_NAME))

    second = make_hook(trained_tiny_classifier, maps_dir).make_labels(dataset)
    assert second['action'] == 'reused' and second['num_generated'] == 0
    assert mtimes(label_dir, '*.png') == labels and mtimes(maps_dir, '*.npy') == maps

    # an interrupted folder is completed with the same settings, the rest left alone
    removed = sorted(labels)[:3]
    for path in removed:
        os.remove(path)
    third = make_hook(trained_tiny_classifier, maps_dir).make_labels(dataset)
    assert third['action'] == 'generated' and third['num_generated'] == 3
    after = mtimes(label_dir, '*.png')
    assert {p: t for p, t in after.items() if p not in removed} == {
        p: t for p, t in labels.items() if p not in removed}
    assert mtimes(maps_dir, '*.npy') == maps  # maps of the missing labels already existed


def test_mismatch_is_refused_then_regenerated(trained_tiny_classifier, embedded_voc_root, split_file, folders,
                                              mmseg_scope):
    label_dir, maps_dir = folders
    dataset = make_dataset(embedded_voc_root, split_file, label_dir)
    make_hook(trained_tiny_classifier, maps_dir).make_labels(dataset)
    labels, maps = mtimes(label_dir, '*.png'), mtimes(maps_dir, '*.npy')

    other = dict(type='none', bg_threshold=0.3)
    with pytest.raises(PseudoLabelError) as error:
        make_hook(trained_tiny_classifier, maps_dir, refiner=other).make_labels(dataset)
    message = str(error.value)
    assert 'refiner.bg_threshold: 0.15 -> 0.3' in message and 'regenerate=True' in message
    assert label_dir in message
    with pytest.raises(PseudoLabelError, match=r'class_maps.method: \'cam\' -> \'advcam\''):
        make_hook(trained_tiny_classifier, maps_dir, method='advcam').make_labels(dataset)
    assert mtimes(label_dir, '*.png') == labels and mtimes(maps_dir, '*.npy') == maps  # untouched

    # regenerate: only the refiner changed, so the labels are remade from the same maps
    result = make_hook(trained_tiny_classifier, maps_dir, refiner=other, regenerate=True).make_labels(dataset)
    assert result['action'] == 'generated' and result['num_generated'] == NUM_IMAGES
    remade = mtimes(label_dir, '*.png')
    assert remade.keys() == labels.keys() and all(remade[p] > labels[p] for p in labels)
    assert mtimes(maps_dir, '*.npy') == maps
    info = dataset.get_data_info(0)
    cams = load_cam_file(osp.join(maps_dir, info['img_id'] + '.npy'))
    np.testing.assert_array_equal(load_label_png(info['seg_map_path']),
                                  seeds_from_maps(cams['high_res'], cams['keys'], 0.3))
    # and the new settings are now the recorded ones
    again = make_hook(trained_tiny_classifier, maps_dir, refiner=other).make_labels(dataset)
    assert again['action'] == 'reused'

    # regenerate with another method (AdvCAM, 2 climbing steps): maps and labels are remade, CRF refiner
    crf = dict(type='crf', bg_threshold=0.15)
    result = make_hook(trained_tiny_classifier, maps_dir, method='advcam', refiner=crf, regenerate=True,
                       label_generation=dict(steps=2, scales=(1.0,), flip=False)).make_labels(dataset)
    assert result['num_generated'] == NUM_IMAGES
    new_maps = mtimes(maps_dir, '*.npy')
    assert new_maps.keys() == maps.keys() and all(new_maps[p] > maps[p] for p in maps)
    with open(osp.join(maps_dir, MAPS_MANIFEST_NAME)) as f:
        assert json.load(f)['settings']['steps'] == 2
    info = dataset.get_data_info(1)
    cams = load_cam_file(osp.join(maps_dir, info['img_id'] + '.npy'))
    np.testing.assert_array_equal(load_label_png(info['seg_map_path']),
                                  seed_with_crf(read_rgb(info['img_path']), cams['high_res'], cams['keys'], 0.15))


def test_changed_classifier_checkpoint_is_detected(trained_tiny_classifier, embedded_voc_root, split_file, folders,
                                                  tmp_path, mmseg_scope):
    label_dir, maps_dir = folders
    dataset = make_dataset(embedded_voc_root, split_file, label_dir)
    make_hook(trained_tiny_classifier, maps_dir).make_labels(dataset)
    config, checkpoint = trained_tiny_classifier
    retrained = str(tmp_path / 'retrained.pth')
    state = torch.load(checkpoint, map_location='cpu', weights_only=False)
    state['state_dict']['classifier.weight'] = state['state_dict']['classifier.weight'] * 2
    torch.save(state, retrained)
    with pytest.raises(PseudoLabelError, match='class_maps.classifier_sha256'):
        make_hook((config, retrained), maps_dir).make_labels(dataset)


def test_foreign_masks_are_never_touched(trained_tiny_classifier, embedded_voc_root, split_file, mmseg_scope,
                                         embedded_voc_copy, tmp_path):
    """A mask folder without a manifest (here: the ground truth) is refused, even with regenerate=True."""
    gt_dir = osp.join(embedded_voc_copy, 'SegmentationClassAug')
    dataset = make_dataset(embedded_voc_copy, split_file, gt_dir)
    before = mtimes(gt_dir, '*.png')
    for regenerate in (False, True):
        with pytest.raises(PseudoLabelError, match='no pseudo_label_manifest.json'):
            make_hook(trained_tiny_classifier, str(tmp_path / 'maps'), regenerate=regenerate).make_labels(dataset)
    assert mtimes(gt_dir, '*.png') == before


def test_label_dir_must_be_the_dataset_mask_folder(trained_tiny_classifier, embedded_voc_root, split_file, folders,
                                                   tmp_path, mmseg_scope):
    label_dir, maps_dir = folders
    dataset = make_dataset(embedded_voc_root, split_file, label_dir)
    elsewhere = str(tmp_path / 'elsewhere')
    with pytest.raises(PseudoLabelError, match='reads its masks from'):
        make_hook(trained_tiny_classifier, maps_dir, label_dir=elsewhere).make_labels(dataset)
    # switching an IRN refiner to seeds with --cfg-options ...refiner.type=crf leaves config/checkpoint behind
    assert refiner_settings(dict(type='crf', config='irn.py', checkpoint='irn.pth', bg_threshold=0.12)) == dict(
        type='crf', bg_threshold=0.12, t=10, gt_prob=0.7)
    with pytest.raises(ValueError, match="unknown settings"):
        refiner_settings(dict(type='none', t=10))
    with pytest.raises(ValueError, match="refiner type must be one of"):
        make_hook(trained_tiny_classifier, maps_dir, refiner='dense')
    with pytest.raises(ValueError, match="needs the IRNet checkpoint"):
        make_hook(trained_tiny_classifier, maps_dir, refiner=dict(type='irn', config='x.py'))
    with pytest.raises(PseudoLabelError, match='checkpoint not found'):
        make_hook((trained_tiny_classifier[0], str(tmp_path / 'none.pth')), maps_dir).make_labels(dataset)


class _FakeIterator:
    def __init__(self, dataloader):
        self.dataloader = dataloader
        self._iterator = SimpleNamespace(shut_down=False)
        self._iterator._shutdown_workers = lambda: setattr(self._iterator, 'shut_down', True)


def test_before_train_fills_the_runner_dataset_and_drops_prefetched_batches(
        trained_tiny_classifier, embedded_voc_root, split_file, folders, mmseg_scope):
    """An iteration-based loop's workers read ahead before the hook runs: the dataloader is rebuilt (same seed)."""
    label_dir, maps_dir = folders
    dataset = make_dataset(embedded_voc_root, split_file, label_dir)
    dataloader = SimpleNamespace(dataset=dataset, num_workers=2)
    loop = SimpleNamespace(dataloader=dataloader, dataloader_iterator=_FakeIterator(dataloader))
    built = []

    def build_dataloader(cfg, seed, diff_rank_seed):
        built.append((cfg, seed, diff_rank_seed))
        return SimpleNamespace(dataset=dataset, num_workers=2)

    runner = SimpleNamespace(train_loop=loop, cfg=Config(dict(train_dataloader=dict(batch_size=3))), seed=7,
                             build_dataloader=build_dataloader)
    runner.train_dataloader = loop.dataloader
    hook = make_hook(trained_tiny_classifier, maps_dir)
    assert hook.priority == 'VERY_HIGH'
    stale = loop.dataloader_iterator
    hook.before_train(runner)
    assert len(glob.glob(osp.join(label_dir, '*.png'))) == NUM_IMAGES
    assert built == [(dict(batch_size=3), 7, False)]
    assert loop.dataloader is not dataloader and loop.dataloader_iterator.dataloader is loop.dataloader
    assert stale._iterator.shut_down
    # nothing generated: nothing rebuilt
    runner.train_dataloader = loop.dataloader
    current = loop.dataloader_iterator
    make_hook(trained_tiny_classifier, maps_dir).before_train(runner)
    assert loop.dataloader_iterator is current and len(built) == 1


def test_irn_refiner_writes_random_walk_masks(trained_tiny_classifier, embedded_voc_root, split_file, folders,
                                              tmp_path, mmseg_scope):
    """refiner='irn': IRN's random walk with an IRNet checkpoint (untrained here; the plumbing is what is tested)."""
    irn_config = osp.join(osp.dirname(trained_tiny_classifier[0]), 'irnet_r18-w16_20ep_embedded.py')
    cfg = Config.fromfile(irn_config)
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.init_cfg = None
    torch.manual_seed(0)
    irnet = MODELS.build(model_cfg)
    irnet.init_weights()
    checkpoint = str(tmp_path / 'irnet.pth')
    torch.save({'state_dict': irnet.state_dict()}, checkpoint)

    label_dir, maps_dir = folders
    dataset = make_dataset(embedded_voc_root, split_file, label_dir)
    refiner = dict(type='irn', config=irn_config, checkpoint=checkpoint, sem_seg_bg_thres=0.2)
    result = make_hook(trained_tiny_classifier, maps_dir, refiner=refiner).make_labels(dataset)
    assert result['num_generated'] == NUM_IMAGES
    with open(osp.join(label_dir, MANIFEST_NAME)) as f:
        recorded = json.load(f)['settings']['refiner']
    assert recorded['type'] == 'irn' and recorded['sem_seg_bg_thres'] == 0.2 and len(recorded['irnet_sha256']) == 64
    assert recorded['beta'] == cfg.get('random_walk', {}).get('beta', DEFAULT_RANDOM_WALK['beta'])
    info = dataset.get_data_info(0)
    model = build_irnet(cfg, checkpoint)
    walk = {k: recorded[k] for k in DEFAULT_RANDOM_WALK}
    with torch.no_grad():
        expected = pseudo_mask_of_image(model, read_rgb(info['img_path']),
                                        load_cam_file(osp.join(maps_dir, info['img_id'] + '.npy')), walk,
                                        cfg.model.data_preprocessor.mean, cfg.model.data_preprocessor.std)
    np.testing.assert_array_equal(load_label_png(info['seg_map_path']), expected.numpy())
    # another IRNet is another label set
    torch.save({'state_dict': {k: v * 1.5 if v.is_floating_point() else v for k, v in irnet.state_dict().items()}},
               checkpoint)
    with pytest.raises(PseudoLabelError, match='refiner.irnet_sha256'):
        make_hook(trained_tiny_classifier, maps_dir, refiner=refiner).make_labels(dataset)
