"""The whole recipe on a second generated dataset whose classes have other names, through tools/pipeline.py:
every stage takes the names from the configs (tables, metrics), and a rerun skips every finished stage."""
import json
import os.path as osp
import re

import pytest

from advcam_mm.datasets.embedded_dataset import EMBEDDED_CLASSES, make_embedded_voc
from conftest import REPO_ROOT, run_tool

CLASSES = ('background', 'alpha', 'beta', 'gamma', 'delta')
PALETTE = [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128]]
EMBEDDED = {role: osp.join(REPO_ROOT, 'configs', 'advcam', name) for role, name in (
    ('classifier', 'cam_r18-w16_30ep_embedded.py'), ('irn', 'irnet_r18-w16_100ep_embedded.py'),
    ('segmentor', 'deeplabv2_r18-w16_600it_embedded.py'))}
#: Each config's datasets: (loader, key path inside the dataset dict).
LOADERS = dict(classifier=('train', 'val', 'test'), irn=('train',), segmentor=('train', 'val', 'test'))
SHORT = dict(
    classifier=['train_cfg.max_epochs=1', 'train_cfg.val_interval=1', 'param_scheduler.0.end=1',
                'default_hooks.checkpoint.interval=1', 'train_dataloader.batch_size=8', 'label_generation.steps=2'],
    irn=['train_cfg.max_epochs=1', 'param_scheduler.0.end=1', 'default_hooks.checkpoint.interval=1',
         'train_dataloader.batch_size=8', 'random_walk.exp_times=4'],
    segmentor=['train_cfg.max_iters=4', 'train_cfg.val_interval=4', 'param_scheduler.0.end=4',
               'default_hooks.checkpoint.interval=4', 'train_dataloader.batch_size=4'])


def write_configs(folder, data_root):
    """Configs that inherit the embedded ones and set data_root and the class names in every dataset."""
    paths = {}
    for role, base in EMBEDDED.items():
        lines = [f"_base_ = ['{base}']", f"data_root = '{data_root}'",
                 f'metainfo = dict(classes={CLASSES!r}, palette={PALETTE!r})']
        lines += [f'{loader}_dataloader = dict(dataset=dict(data_root=data_root, metainfo=metainfo))'
                  for loader in LOADERS[role]]
        paths[role] = osp.join(folder, f'{role}_other_names.py')
        with open(paths[role], 'w') as f:
            f.write('\n'.join(lines) + '\n')
    return paths


@pytest.fixture(scope='module')
def other_dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp('other_names')
    data_root = make_embedded_voc(str(folder / 'data'), num_train=16, num_val=4, num_train_subset=8, image_size=64,
                                  seed=5)
    return str(folder), data_root, write_configs(str(folder), data_root)


def pipeline_args(folder, configs, *extra):
    with open(osp.join(folder, 'data', 'VOCdevkit', 'VOC2012', 'ImageSets', 'Segmentation', 'train.txt')) as f:
        panel_id = f.read().split()[0]
    return ['tools/pipeline.py', '--work-dir', osp.join(folder, 'run'), '--classifier-config', configs['classifier'],
            '--irn-config', configs['irn'], '--segmentor-config', configs['segmentor'], '--cct-config', 'none',
            '--tests', 'ss', '--analysis-images', '2', '--panel-ids', panel_id,
            '--classifier-options', *SHORT['classifier'], '--irn-options', *SHORT['irn'],
            '--segmentor-options', *SHORT['segmentor'], *extra]


def table_rows(text, header):
    """``{first word: other words}`` of the table printed under ``header`` (up to its mIoU row)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split() == header)
    rows = {}
    for line in lines[start + 2:]:
        words = line.split()
        if words[0] == 'mIoU' or words[0].startswith('---'):
            break
        rows[words[0]] = words[1:]
    return rows


def test_the_recipe_names_the_classes_of_the_configs(other_dataset):
    folder, data_root, configs = other_dataset
    dry = run_tool(pipeline_args(folder, configs, '--dry-run'))
    names = [line.split(']')[0][1:] for line in dry.stdout.splitlines() if line.startswith('[')]
    assert names == ['classifier', 'advcam maps', 'advcam seeds', 'advcam IR labels', 'advcam IRNet',
                     'advcam pseudo masks', 'advcam mask evaluation', 'advcam DeepLab-v2', 'advcam DeepLab-v2 test ss',
                     'Fig. 6 analysis', 'advcam DeepLab-v2 predictions', 'panels']
    assert '[advcam pseudo masks] python -m advcam_mm.stages.pseudo_masks   (after: advcam IRNet)' in dry.stdout
    assert not osp.exists(osp.join(folder, 'run', 'classifier'))  # a dry run runs nothing

    result = run_tool(pipeline_args(folder, configs), timeout=900, num_threads=2)
    out = result.stdout + result.stderr
    seeds = table_rows(out, ['class', 'Seed', '+CRF'])
    masks = table_rows(out, ['class', 'Mask'])
    assert list(seeds) == list(masks) == list(CLASSES)
    # MMSeg's per-class table of the segmentor's test: the same names (and not the embedded dataset's)
    tested = re.findall(r'^\|\s*(\w+)\s*\|\s*[0-9.na]+\s*\|', out, re.M)
    assert tested and set(tested) == set(CLASSES) and not set(tested) & set(EMBEDDED_CLASSES[1:])
    run = osp.join(folder, 'run', 'advcam')
    for metrics in (osp.join(run, 'seeds', 'metrics.json'), osp.join(run, 'masks_eval', 'metrics.json')):
        with open(metrics) as f:
            assert json.load(f)['class_names'] == list(CLASSES)
    with open(osp.join(folder, 'run', 'summary.json')) as f:
        summary = json.load(f)['advcam']
    for key in ('seed', 'seed_crf', 'mask'):
        assert 0 < summary[key] < 100
    assert summary['deeplab']['ss'] is not None
    assert osp.isfile(osp.join(folder, 'run', 'analysis', 'fig6ab.png'))
    assert osp.isfile(osp.join(folder, 'run', 'panels', 'train_0000.png'))

    again = run_tool(pipeline_args(folder, configs), num_threads=2)
    skipped = [line for line in again.stdout.splitlines() if line.endswith('complete with the same settings, skipped')]
    assert len(skipped) == len(names), again.stdout
