"""Every *_embedded config reads the embedded dataset's classes from the generator's list."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from advcam_mm.datasets.embedded_dataset import EMBEDDED_CLASSES, EMBEDDED_PALETTE
from conftest import REPO_ROOT

EMBEDDED_CONFIGS = sorted(glob.glob(osp.join(REPO_ROOT, 'configs', 'advcam', '*_embedded*.py')))


def _datasets(cfg):
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = cfg.get(loader, {}).get('dataset')
        if dataset is None:
            continue
        parts = [dataset[k] for k in ('labelled', 'weak') if k in dataset] or [dataset]
        yield from parts


@pytest.mark.parametrize('config', EMBEDDED_CONFIGS, ids=osp.basename)
def test_embedded_configs_use_the_generators_classes(config):
    cfg = Config.fromfile(config)
    datasets = list(_datasets(cfg))
    assert datasets
    for dataset in datasets:
        assert tuple(dataset.metainfo['classes']) == tuple(EMBEDDED_CLASSES)
        assert [list(c) for c in dataset.metainfo['palette']] == [list(c) for c in EMBEDDED_PALETTE]
        assert dataset.data_root == 'data/embedded/VOCdevkit/VOC2012'
