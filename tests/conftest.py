"""Shared test fixtures and helpers: the embedded VOC-layout dataset, a tiny trained classifier and its CAM
maps (each made once per session), and running the tools as a user does."""
import argparse
import glob
import os
import os.path as osp
import shutil
import socket
import subprocess
import sys

import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY_CLASSIFIER_CONFIG = osp.join(REPO_ROOT, 'configs', 'advcam', 'cam_r18-w16_30ep_embedded.py')
#: Short AdvCAM climbs keep the stage tests fast; the semantics are those of the full default.
FAST_ADVCAM = ['label_generation.steps=2']


# -- running tools ------------------------------------------------------------------------------------
def tool_env(num_threads=1):
    """Environment for a tool subprocess: 1 thread, passive OpenMP, repo and test helpers importable."""
    env = dict(os.environ)
    env.update(PYTHON=sys.executable, PATH=osp.dirname(sys.executable) + os.pathsep + env.get('PATH', ''),
               OMP_NUM_THREADS=str(num_threads), MKL_NUM_THREADS=str(num_threads),
               OMP_WAIT_POLICY='PASSIVE', PYTHONWARNINGS='ignore',
               PYTHONPATH=os.pathsep.join([REPO_ROOT, osp.join(REPO_ROOT, 'tests', 'helpers'),
                                           env.get('PYTHONPATH', '')]))
    return env


def free_port():
    """A TCP port that is free now (for torchrun's rendezvous; a fixed port collides with parallel runs)."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def run_tool(args, timeout=600, num_threads=1, check=True, env=None):
    """Run ``python tools/...`` (or ``bash tools/...sh``) from the repo root; return the CompletedProcess.

    ``bash tools/dist_*.sh`` gets a free ``PORT``; ``env`` adds environment variables."""
    command = [str(a) for a in args]
    environment = tool_env(num_threads)
    if command[0].endswith('.py'):
        command = [sys.executable] + command
    elif command[0].endswith('.sh'):
        command = ['bash'] + command
        environment['PORT'] = str(free_port())
    environment.update(env or {})
    result = subprocess.run(command, cwd=REPO_ROOT, env=environment, capture_output=True,
                            text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f'{" ".join(command)} failed ({result.returncode}):\n'
                             f'{result.stdout[-3000:]}\n{result.stderr[-5000:]}')
    return result


def run_distributed(args, nproc=2, timeout=600, check=True):
    """``python -m torch.distributed.run --nproc_per_node N args... --launcher pytorch`` on a free port."""
    return run_tool([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', str(nproc),
                     '--master_port', str(free_port()), *args, '--launcher', 'pytorch'], timeout=timeout,
                    check=check)


def embedded_data_options(data_root):
    """``--cfg-options`` that point the tiny classifier config at ``data_root``."""
    return [f'train_dataloader.dataset.data_root={data_root}',
            f'val_dataloader.dataset.data_root={data_root}',
            f'test_dataloader.dataset.data_root={data_root}']


def options_dict(options):
    """``['key=value', ...]`` as the dict ``--cfg-options`` makes of them (values parsed as MMEngine does)."""
    from mmengine.config import DictAction
    namespace = argparse.Namespace()
    DictAction(option_strings=[], dest='options')(None, namespace, list(options))
    return namespace.options


# -- files --------------------------------------------------------------------------------------------
def split_file(data_root, split, count, path):
    """A list file of the first ``count`` ids of ``split`` (stages take a list file as their split)."""
    with open(osp.join(data_root, 'ImageSets', 'Segmentation', f'{split}.txt')) as f:
        ids = [line.strip() for line in f if line.strip()][:count]
    with open(path, 'w') as f:
        f.write(''.join(f'{i}\n' for i in ids))
    return str(path)


def mtimes(folder, pattern='*'):
    """``{path: mtime_ns}`` of the files of ``folder`` matching ``pattern`` (to see what a rerun touched)."""
    return {p: os.stat(p).st_mtime_ns for p in glob.glob(osp.join(str(folder), pattern))}


def independent_miou(data_root, split, prediction_dir, num_classes):
    """mIoU (%) of ``<prediction_dir>/<id>.png`` (a test run's ``--out``) against VOC's SegmentationClass,
    computed here: one confusion over all images, 255 left out, the mean over the classes present in ground
    truth or predictions (MMSeg's IoUMetric's definition)."""
    import numpy as np
    from PIL import Image
    confusion = np.zeros((num_classes, num_classes), np.int64)
    with open(osp.join(data_root, 'ImageSets', 'Segmentation', f'{split}.txt')) as f:
        ids = f.read().split()
    for image_id in ids:
        gt = np.asarray(Image.open(osp.join(data_root, 'SegmentationClass', f'{image_id}.png'))).astype(np.int64)
        pred = np.asarray(Image.open(osp.join(prediction_dir, f'{image_id}.png'))).astype(np.int64)
        valid = gt != 255
        np.add.at(confusion, (gt[valid], pred[valid]), 1)
    intersection = np.diag(confusion)
    union = confusion.sum(0) + confusion.sum(1) - intersection
    return 100 * np.mean(intersection[union > 0] / union[union > 0])


# -- fixtures -----------------------------------------------------------------------------------------
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


@pytest.fixture(scope='session')
def trained_tiny_classifier(embedded_voc_root, tmp_path_factory):
    """A tiny CAM classifier trained briefly on the embedded dataset: (config, checkpoint)."""
    work_dir = str(tmp_path_factory.mktemp('tiny_classifier'))
    run_tool(['tools/train.py', TINY_CLASSIFIER_CONFIG, '--work-dir', work_dir, '--cfg-options',
              *embedded_data_options(embedded_voc_root), 'train_cfg.max_epochs=6',
              'train_cfg.val_interval=6', 'default_hooks.checkpoint.interval=6',
              'param_scheduler.0.end=6'], num_threads=2)
    return TINY_CLASSIFIER_CONFIG, osp.join(work_dir, 'epoch_6.pth')


@pytest.fixture(scope='session')
def small_train_split(embedded_voc_root, tmp_path_factory):
    """A list file of the first 4 ``train`` ids: the split of the shared class maps below."""
    return split_file(embedded_voc_root, 'train', 4, tmp_path_factory.mktemp('splits') / 'small.txt')


@pytest.fixture(scope='session')
def cam_maps(trained_tiny_classifier, embedded_voc_root, small_train_split, tmp_path_factory):
    """CAM maps of the small split with their manifest (the class-map stage); read-only: copy to change."""
    from advcam_mm.stages import class_maps
    config, checkpoint = trained_tiny_classifier
    folder = str(tmp_path_factory.mktemp('cam_maps'))
    class_maps.run(config, checkpoint, folder, small_train_split, 'cam',
                   cfg_options=options_dict(embedded_data_options(embedded_voc_root)), show_progress=False)
    return folder
