"""AdvCAMPseudoLabelHook: fills the training dataset's masks from finished class maps (the pseudo-mask stage),
reuses them, refuses other settings unless ``regenerate=True``, rebuilds a dataloader that read ahead.

Expected labels are computed here from the class-map files (seeds, dense CRF, IRNet + random walk), not by
the stage's functions."""
import copy
import os.path as osp
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.config import Config

import advcam_mm  # noqa: F401  (registers the components)
from advcam_mm.core.random_walk import refine_with_random_walk
from advcam_mm.core.seeds import seed_with_crf, seeds_from_maps
from advcam_mm.datasets.embedded_dataset import EMBEDDED_CLASSES
from advcam_mm.fileio.cam_files import cam_file_path, load_cam_file
from advcam_mm.fileio.images import read_rgb
from advcam_mm.fileio.label_png import load_label_png
from advcam_mm.fileio.manifest import ManifestError, make_manifest, read_manifest, write_manifest
from advcam_mm.stages.output_folder import StageMismatchError
from conftest import REPO_ROOT, mtimes
from mmseg.registry import DATASETS, HOOKS, MODELS

IRN_CONFIG = osp.join(REPO_ROOT, 'configs', 'advcam', 'irnet_r18-w16_100ep_embedded.py')


def make_dataset(data_root, split_file, label_dir):
    """The training dataset as the DeepLab configs build it: masks from the pseudo-label folder."""
    return DATASETS.build(dict(
        type='VOCSegmentationDataset', data_root=data_root, ann_file=split_file, mask_dir=label_dir,
        check_files=False, metainfo=dict(classes=EMBEDDED_CLASSES), pipeline=[]))


def make_hook(maps_dir, **kwargs):
    settings = dict(type='AdvCAMPseudoLabelHook', maps_dir=maps_dir, refiner=dict(type='crf', bg_threshold=0.15),
                    device='cpu')
    settings.update(kwargs)
    return HOOKS.build(settings)


@pytest.fixture
def dataset(embedded_voc_root, small_train_split, tmp_path, mmseg_scope):
    return make_dataset(embedded_voc_root, small_train_split, str(tmp_path / 'labels'))


def test_makes_crf_seeds_once_then_reuses(dataset, cam_maps, tmp_path):
    label_dir = str(tmp_path / 'labels')
    first = make_hook(cam_maps).make_labels(dataset)
    assert (first['plan'], first['num_generated'], first['num_images']) == ('fresh', 4, 4)
    assert first['label_dir'] == label_dir
    for index in range(len(dataset)):  # the files the dataset reads: IRN's CRF on the seeds of the maps
        info = dataset.get_data_info(index)
        maps = load_cam_file(cam_file_path(cam_maps, info['img_id']))
        expected = seed_with_crf(read_rgb(info['img_path']), maps['high_res'], maps['keys'], 0.15)
        np.testing.assert_array_equal(load_label_png(info['seg_map_path']), expected)
        assert not np.array_equal(expected, seeds_from_maps(maps['high_res'], maps['keys'], 0.15))  # CRF acted
    manifest = read_manifest(label_dir)
    assert manifest['stage'] == 'pseudo_masks' and manifest['status'] == 'complete'
    assert manifest['settings'] == dict(type='crf', bg_threshold=0.15, crf={})
    labels, maps = mtimes(label_dir, '*.png'), mtimes(cam_maps, '*')

    second = make_hook(cam_maps).make_labels(dataset)
    assert (second['plan'], second['num_generated']) == ('reuse', 0)
    assert mtimes(label_dir, '*.png') == labels and mtimes(cam_maps, '*') == maps  # the maps are only read


def test_other_settings_are_refused_unless_regenerate(dataset, cam_maps, tmp_path):
    label_dir = str(tmp_path / 'labels')
    make_hook(cam_maps).make_labels(dataset)
    labels = mtimes(label_dir, '*.png')
    seeds = dict(type='none', bg_threshold=0.3)
    with pytest.raises(StageMismatchError) as error:
        make_hook(cam_maps, refiner=seeds).make_labels(dataset)
    for text in ("settings.type: 'crf' -> 'none'", 'settings.bg_threshold: 0.15 -> 0.3', 'regenerate=True',
                 label_dir):
        assert text in str(error.value)
    assert mtimes(label_dir, '*.png') == labels

    result = make_hook(cam_maps, refiner=seeds, regenerate=True).make_labels(dataset)
    assert (result['plan'], result['num_generated']) == ('regenerate', 4)
    assert all(mtimes(label_dir, '*.png')[p] != labels[p] for p in labels)
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        maps = load_cam_file(cam_file_path(cam_maps, info['img_id']))
        np.testing.assert_array_equal(load_label_png(info['seg_map_path']),
                                      seeds_from_maps(maps['high_res'], maps['keys'], 0.3))
    assert make_hook(cam_maps, refiner=seeds).make_labels(dataset)['plan'] == 'reuse'  # now recorded


def test_maps_must_be_finished_and_the_refiner_valid(dataset, cam_maps, tmp_path):
    unfinished = shutil.copytree(cam_maps, str(tmp_path / 'maps'))
    recorded = read_manifest(unfinished)
    write_manifest(unfinished, make_manifest('class_maps', recorded['settings'], recorded['inputs'], 'incomplete'))
    with pytest.raises(ManifestError, match='the class_maps stage that writes .* has not finished'):
        make_hook(unfinished).make_labels(dataset)
    # a bad refiner fails when the hook is built (the config is read), not after the run has started
    with pytest.raises(ValueError, match='refiner type must be one of'):
        make_hook(cam_maps, refiner='dense')
    with pytest.raises(ValueError, match="refiner 'irn' needs the IRNet checkpoint"):
        make_hook(cam_maps, refiner=dict(type='irn', config=IRN_CONFIG))


class _FakeIterator:
    def __init__(self, dataloader):
        self.dataloader = dataloader
        self._iterator = SimpleNamespace(shut_down=False)
        self._iterator._shutdown_workers = lambda: setattr(self._iterator, 'shut_down', True)


def test_before_train_fills_the_runner_dataset_and_drops_prefetched_batches(dataset, cam_maps, tmp_path):
    """An iteration-based loop's workers read ahead before the hook runs: the dataloader is rebuilt (same seed).

    (A real 2-process run with a worker reading ahead: tests/test_tools/test_deeplab_dist.py.)"""
    dataloader = SimpleNamespace(dataset=dataset, num_workers=2)
    loop = SimpleNamespace(dataloader=dataloader, dataloader_iterator=_FakeIterator(dataloader))
    built = []

    def build_dataloader(cfg, seed, diff_rank_seed):
        built.append((cfg, seed, diff_rank_seed))
        return SimpleNamespace(dataset=dataset, num_workers=2)

    runner = SimpleNamespace(train_loop=loop, cfg=Config(dict(train_dataloader=dict(batch_size=3))), seed=7,
                             build_dataloader=build_dataloader, train_dataloader=dataloader)
    hook = make_hook(cam_maps)
    assert hook.priority == 'VERY_HIGH'
    stale = loop.dataloader_iterator
    hook.before_train(runner)
    assert len(mtimes(str(tmp_path / 'labels'), '*.png')) == 4
    assert built == [(dict(batch_size=3), 7, False)]
    assert loop.dataloader is not dataloader and loop.dataloader_iterator.dataloader is loop.dataloader
    assert stale._iterator.shut_down
    # nothing made: nothing rebuilt
    runner.train_dataloader = loop.dataloader
    current = loop.dataloader_iterator
    make_hook(cam_maps).before_train(runner)
    assert loop.dataloader_iterator is current and len(built) == 1


def test_irn_refiner_writes_the_random_walk_of_the_irnet(dataset, cam_maps, tmp_path):
    """refiner 'irn': IRNet's boundary map and IRN's random walk (an untrained IRNet; the chain is what is tested)."""
    cfg = Config.fromfile(IRN_CONFIG)
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.init_cfg = None
    torch.manual_seed(0)
    irnet = MODELS.build(model_cfg)
    irnet.init_weights()
    checkpoint = str(tmp_path / 'irnet.pth')
    torch.save({'state_dict': irnet.state_dict()}, checkpoint)
    irnet.eval()

    refiner = dict(type='irn', config=IRN_CONFIG, checkpoint=checkpoint, sem_seg_bg_thres=0.2)
    result = make_hook(cam_maps, refiner=refiner).make_labels(dataset)
    assert result['num_generated'] == 4
    recorded = read_manifest(str(tmp_path / 'labels'))
    walk = dict(cfg.random_walk, sem_seg_bg_thres=0.2)
    assert recorded['settings'] == dict(type='irn', **walk, mean=list(cfg.model.data_preprocessor.mean),
                                        std=list(cfg.model.data_preprocessor.std))
    assert len(recorded['inputs']['irnet_checkpoint']['sha256']) == 64
    mean = torch.tensor(cfg.model.data_preprocessor.mean).view(3, 1, 1)
    std = torch.tensor(cfg.model.data_preprocessor.std).view(3, 1, 1)
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        maps = load_cam_file(cam_file_path(cam_maps, info['img_id']))
        image = (torch.from_numpy(read_rgb(info['img_path'])).permute(2, 0, 1).float() - mean) / std
        with torch.no_grad():
            boundary, _ = irnet.boundary_and_displacement(image)
            expected = refine_with_random_walk(torch.from_numpy(maps['cam']), maps['keys'], boundary,
                                               image.shape[-2:], **walk)
        np.testing.assert_array_equal(load_label_png(info['seg_map_path']), expected.numpy())
    # another IRNet is another label set
    torch.save({'state_dict': {k: v * 1.5 if v.is_floating_point() else v for k, v in irnet.state_dict().items()}},
               checkpoint)
    with pytest.raises(StageMismatchError, match=r'inputs\.irnet_checkpoint\.sha256'):
        make_hook(cam_maps, refiner=refiner).make_labels(dataset)
