"""Shared test fixtures: the embedded VOC-layout dataset, generated once per test session."""
import os.path as osp
import shutil

import pytest


@pytest.fixture(scope='session')
def embedded_voc_root(tmp_path_factory):
    """``VOC2012`` folder of the embedded dataset with the library defaults.

    160 train_aug (train = first 60), 40 val, 128x128 RGB, classes
    ``advcam_mm.datasets.embedded_dataset.EMBEDDED_CLASSES`` (background + 4);
    generated once per session (~2 s). Read-only: tests that damage files
    use ``embedded_voc_copy``.
    """
    from advcam_mm.datasets.embedded_dataset import make_embedded_voc
    return make_embedded_voc(str(tmp_path_factory.mktemp('embedded')))


@pytest.fixture
def embedded_voc_copy(embedded_voc_root, tmp_path):
    """A private, writable copy of the embedded ``VOC2012`` folder (for bad-input tests)."""
    copy = osp.join(str(tmp_path), 'VOCdevkit', 'VOC2012')
    shutil.copytree(embedded_voc_root, copy)
    return copy


@pytest.fixture
def mmseg_scope():
    """mmseg as the default registry scope during the test (as ``default_scope='mmseg'`` in configs),
    so that pipelines built by datasets find mmseg and advcam_mm transforms; restored afterwards."""
    import advcam_mm  # noqa: F401  (registers the components)
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmseg'):
        yield
