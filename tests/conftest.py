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


@pytest.fixture(scope='session')
def coco_miniature_root(tmp_path_factory):
    """The COCO-format miniature (24 train2014 + 12 val2014 images), converted; read-only.

    ``advcam_mm.datasets.coco_miniature`` inputs plus what ``convert_coco``
    writes (``SegmentationClass/``, ``ImageSets/``, ``cls_labels_coco.npy``);
    about 2 s.
    """
    from advcam_mm.stages.coco_conversion import convert_coco
    from advcam_mm.datasets.coco_miniature import make_coco_miniature
    root = make_coco_miniature(str(tmp_path_factory.mktemp('coco') / 'coco2014'))
    convert_coco(root, num_workers=2)
    return root


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


REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY_CLASSIFIER_CONFIG = osp.join(REPO_ROOT, 'configs', 'advcam', 'cam_r18-w16_15ep_embedded.py')


def tool_env(num_threads=1):
    """Environment for a tool subprocess: 1 thread, passive OpenMP, repo and test helpers importable."""
    import os
    import sys
    env = dict(os.environ)
    env.update(PYTHON=sys.executable, PATH=osp.dirname(sys.executable) + os.pathsep + env.get('PATH', ''),
               OMP_NUM_THREADS=str(num_threads), MKL_NUM_THREADS=str(num_threads),
               OMP_WAIT_POLICY='PASSIVE', PYTHONWARNINGS='ignore',
               PYTHONPATH=os.pathsep.join([REPO_ROOT, osp.join(REPO_ROOT, 'tests', 'helpers'),
                                           env.get('PYTHONPATH', '')]))
    return env


def run_tool(args, timeout=600, num_threads=1, check=True):
    """Run ``python tools/...`` (or ``bash tools/...sh``) from the repo root; return the CompletedProcess."""
    import subprocess
    import sys
    command = list(args)
    if command[0].endswith('.py'):
        command = [sys.executable] + command
    elif command[0].endswith('.sh'):
        command = ['bash'] + command
    result = subprocess.run(command, cwd=REPO_ROOT, env=tool_env(num_threads), capture_output=True,
                            text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f'{" ".join(command)} failed ({result.returncode}):\n'
                             f'{result.stdout[-3000:]}\n{result.stderr[-5000:]}')
    return result


def embedded_data_options(data_root):
    """``--cfg-options`` that point the tiny classifier config at ``data_root``."""
    return [f'train_dataloader.dataset.data_root={data_root}',
            f'val_dataloader.dataset.data_root={data_root}',
            f'test_dataloader.dataset.data_root={data_root}']


@pytest.fixture(scope='session')
def trained_tiny_classifier(embedded_voc_root, tmp_path_factory):
    """A tiny CAM classifier trained briefly on the embedded dataset: (config, checkpoint)."""
    work_dir = str(tmp_path_factory.mktemp('tiny_classifier'))
    run_tool(['tools/train.py', TINY_CLASSIFIER_CONFIG, '--work-dir', work_dir, '--cfg-options',
              *embedded_data_options(embedded_voc_root), 'train_cfg.max_epochs=6',
              'train_cfg.val_interval=6', 'default_hooks.checkpoint.interval=6',
              'param_scheduler.0.end=6'], num_threads=2)
    return TINY_CLASSIFIER_CONFIG, osp.join(work_dir, 'epoch_6.pth')
