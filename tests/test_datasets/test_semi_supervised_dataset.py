"""The semi-supervised data layer: train_aug minus train, the labelled/weak dataset, the fixed-ratio sampler."""
import itertools
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

import advcam_mm  # noqa: F401  (registers the components)
from advcam_mm.datasets import semi_supervised_sampler
from advcam_mm.datasets.embedded_dataset import EMBEDDED_CLASSES
from advcam_mm.datasets.voc_split_difference import split_difference
from mmseg.registry import DATA_SAMPLERS, DATASETS

REPO = osp.join(osp.dirname(__file__), '..', '..')
TINY_CONFIG = osp.join(REPO, 'configs', 'advcam', 'cct_r18-w16_600it_embedded-semi.py')
SEG = 'ImageSets/Segmentation'


@pytest.fixture(scope='module')
def pseudo_dir(embedded_voc_root, tmp_path_factory):
    """Pseudo masks of the weak ids: the ground truth with every foreground pixel turned background in the top rows."""
    folder = tmp_path_factory.mktemp('pseudo')
    for line in open(osp.join(embedded_voc_root, SEG, 'train_aug.txt')):
        image_id = line.strip()
        mask = np.array(Image.open(osp.join(embedded_voc_root, 'SegmentationClassAug', image_id + '.png')))
        mask[:20] = 0
        Image.fromarray(mask).save(folder / f'{image_id}.png')
    return str(folder)


def _semi_cfg(data_root, pseudo):
    cfg = Config.fromfile(TINY_CONFIG)
    dataset = cfg.train_dataloader.dataset
    dataset.labelled.data_root = data_root
    dataset.weak.data_root = data_root
    dataset.weak.mask_dir = pseudo
    return cfg


def test_split_difference_keeps_order():
    assert split_difference(['a', 'b', 'c', 'd'], ['c', 'a', 'x']) == ['b', 'd']


def test_weak_part_is_train_aug_minus_train_with_pseudo_masks(embedded_voc_root, pseudo_dir):
    cfg = _semi_cfg(embedded_voc_root, pseudo_dir)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    train = [line.strip() for line in open(osp.join(embedded_voc_root, SEG, 'train.txt'))]
    train_aug = [line.strip() for line in open(osp.join(embedded_voc_root, SEG, 'train_aug.txt'))]
    assert (dataset.num_labelled, dataset.num_weak, len(dataset)) == (60, 100, 160)
    labelled, weak = dataset.datasets
    assert labelled.image_ids() == train
    assert weak.image_ids() == [i for i in train_aug if i not in set(train)]
    assert weak.get_data_info(0)['seg_map_path'] == osp.join(pseudo_dir, weak.image_ids()[0] + '.png')
    assert dataset.metainfo['classes'] == EMBEDDED_CLASSES

    first, last = dataset[0], dataset[159]
    assert first['data_samples'].is_labelled is True and last['data_samples'].is_labelled is False
    crop = cfg.crop_size  # the embedded config's training crop
    assert first['inputs'].shape == last['inputs'].shape == (3, crop, crop)
    assert last['data_samples'].seg_map_path.startswith(pseudo_dir)


def test_overlapping_parts_and_missing_lists_are_reported(embedded_voc_root, pseudo_dir, tmp_path):
    cfg = _semi_cfg(embedded_voc_root, pseudo_dir)
    overlapping = cfg.train_dataloader.dataset
    overlapping.weak.exclude_ann_file = f'{SEG}/val.txt'  # weak = all train_aug, so train is in both parts
    with pytest.raises(ValueError, match='60 images are in both'):
        DATASETS.build(overlapping)
    overlapping.allow_overlap = True
    assert len(DATASETS.build(overlapping)) == 220

    cfg = _semi_cfg(embedded_voc_root, pseudo_dir)
    cfg.train_dataloader.dataset.weak.exclude_ann_file = str(tmp_path / 'nowhere.txt')
    with pytest.raises(FileNotFoundError, match='nowhere.txt'):
        DATASETS.build(cfg.train_dataloader.dataset)

    cfg = _semi_cfg(embedded_voc_root, str(tmp_path / 'no_pseudo_labels'))
    with pytest.raises(FileNotFoundError, match='no_pseudo_labels'):
        DATASETS.build(cfg.train_dataloader.dataset)

    cfg = _semi_cfg(embedded_voc_root, pseudo_dir)
    cfg.train_dataloader.dataset.weak.ann_file = f'{SEG}/train.txt'
    with pytest.raises(ValueError, match='nothing is left'):
        DATASETS.build(cfg.train_dataloader.dataset)


class _Parts:
    def __init__(self, num_labelled, num_weak):
        self.num_labelled, self.num_weak = num_labelled, num_weak


def _batches(sampler):
    indices = list(sampler)
    assert len(indices) == len(sampler)
    return [indices[i:i + sampler.batch_size] for i in range(0, len(indices), sampler.batch_size)]


def test_sampler_puts_a_fixed_ratio_in_every_batch():
    sampler = DATA_SAMPLERS.build(dict(type='SemiSupervisedSampler', labelled_per_batch=3, weak_per_batch=5),
                                  default_args=dict(dataset=_Parts(7, 23), seed=0))
    batches = _batches(sampler)
    assert len(batches) == 5  # ceil(23 / 5): an epoch is one pass over the weak part
    for batch in batches:
        assert all(i < 7 for i in batch[:3]) and all(7 <= i < 30 for i in batch[3:])
    weak = [i for batch in batches for i in batch[3:]]
    assert set(weak) == set(range(7, 30))  # every weak sample, two repeated to fill the last batch
    labelled = [i for batch in batches for i in batch[:3]]
    assert set(labelled) == set(range(7))  # cycled through fresh permutations
    assert _batches(sampler) == batches  # deterministic for an epoch
    sampler.set_epoch(1)
    assert _batches(sampler) != batches


def test_infinite_sampler_chains_the_epochs():
    finite = semi_supervised_sampler.SemiSupervisedSampler(_Parts(5, 9), 2, 3, seed=1)
    epochs = []
    for epoch in (0, 1, 2):
        finite.set_epoch(epoch)
        epochs += list(finite)
    infinite = semi_supervised_sampler.SemiSupervisedSampler(_Parts(5, 9), 2, 3, seed=1, infinite=True)
    assert list(itertools.islice(iter(infinite), len(epochs))) == epochs


def test_sampler_ranks_share_the_epoch(monkeypatch):
    per_rank = []
    for rank in (0, 1):
        monkeypatch.setattr(semi_supervised_sampler, 'get_dist_info', lambda rank=rank: (rank, 2))
        sampler = semi_supervised_sampler.SemiSupervisedSampler(_Parts(10, 40), 2, 4, seed=5)
        per_rank.append(_batches(sampler))
    assert len(per_rank[0]) == len(per_rank[1]) == 5
    weak = [set(i for batch in batches for i in batch[2:]) for batches in per_rank]
    assert not weak[0] & weak[1] and weak[0] | weak[1] == set(range(10, 50))


def test_sampler_rejects_other_datasets_and_empty_parts():
    with pytest.raises(TypeError, match='SemiSupervisedDataset'):
        semi_supervised_sampler.SemiSupervisedSampler(list(range(5)), 1, 1, seed=0)
    with pytest.raises(ValueError, match='non-empty'):
        semi_supervised_sampler.SemiSupervisedSampler(_Parts(0, 5), 1, 1, seed=0)
