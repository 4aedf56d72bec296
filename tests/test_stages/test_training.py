"""Training stage (tools/train.py) with a real MMEngine Runner: the manifest names the final checkpoint,
a rerun skips, other settings are refused, --regenerate retrains; what it records as inputs."""
import os
import os.path as osp

import pytest
from mmengine.config import Config

from advcam_mm.fileio.manifest import file_sha256, read_manifest
from advcam_mm.stages import training
from advcam_mm.stages.output_folder import StageMismatchError
from conftest import REPO_ROOT, TINY_CLASSIFIER_CONFIG, embedded_data_options, mtimes, options_dict, split_file


def short_run_options(data_root, split, *extra):
    return options_dict([*embedded_data_options(data_root), f'train_dataloader.dataset.ann_file={split}',
                         'train_dataloader.batch_size=4', 'train_cfg.max_epochs=1', 'train_cfg.val_interval=10',
                         'param_scheduler.0.end=1', 'default_hooks.checkpoint.interval=1',
                         'default_hooks.logger.interval=1', *extra])


def test_trains_then_skips_refuses_and_regenerates(embedded_voc_root, tmp_path, capsys):
    split = split_file(embedded_voc_root, 'train', 8, tmp_path / 'eight.txt')
    work_dir = str(tmp_path / 'work')
    checkpoint = training.run(TINY_CLASSIFIER_CONFIG, work_dir, short_run_options(embedded_voc_root, split))
    assert checkpoint == osp.join(work_dir, 'epoch_1.pth') and osp.isfile(checkpoint)
    manifest = read_manifest(work_dir)
    assert manifest['stage'] == 'training' and manifest['status'] == 'complete'
    assert manifest['outputs'] == dict(checkpoint='epoch_1.pth', checkpoint_sha256=file_sha256(checkpoint))
    assert manifest['settings']['train_cfg']['max_epochs'] == 1 and manifest['settings']['world_size'] == 1
    assert 'num_workers' not in manifest['settings']['train_dataloader']  # speed only: not a setting
    assert training.checkpoint_of(work_dir) == training.resolve_checkpoint(work_dir) == checkpoint
    before = mtimes(work_dir, '*.pth')
    capsys.readouterr()

    # the same settings (the number of loader workers changes only the speed): kept, not retrained
    assert training.run(TINY_CLASSIFIER_CONFIG, work_dir, short_run_options(
        embedded_voc_root, split, 'train_dataloader.num_workers=1')) == checkpoint
    assert 'finished with the same settings' in capsys.readouterr().out and mtimes(work_dir, '*.pth') == before

    with pytest.raises(StageMismatchError) as error:
        training.run(TINY_CLASSIFIER_CONFIG, work_dir, short_run_options(embedded_voc_root, split,
                                                                         'optim_wrapper.optimizer.lr=0.1'))
    assert 'settings.optim_wrapper.optimizer.lr: 0.05 -> 0.1' in str(error.value)
    assert len(str(error.value).splitlines()) == 3  # the header, the one difference, the advice
    assert mtimes(work_dir, '*.pth') == before

    training.run(TINY_CLASSIFIER_CONFIG, work_dir, short_run_options(embedded_voc_root, split,
                                                                     'optim_wrapper.optimizer.lr=0.1'),
                 regenerate=True)
    assert mtimes(work_dir, '*.pth')[checkpoint] != before[checkpoint]
    assert read_manifest(work_dir)['settings']['optim_wrapper']['optimizer']['lr'] == 0.1
    assert read_manifest(work_dir)['outputs']['checkpoint_sha256'] == file_sha256(checkpoint)


def test_foreign_work_dirs_and_unfinished_runs_are_not_used(tmp_path):
    foreign = tmp_path / 'foreign'
    foreign.mkdir()
    (foreign / 'epoch_5.pth').write_bytes(b'someone else')
    cfg = Config.fromfile(TINY_CLASSIFIER_CONFIG)
    cfg.work_dir = str(foreign)
    with pytest.raises(StageMismatchError, match='epoch_5.pth. but no stage_manifest.json'):
        training.work_dir_folder(cfg, 1).plan(regenerate=True)
    assert os.listdir(foreign) == ['epoch_5.pth']
    with pytest.raises(FileNotFoundError, match='no finished training run'):
        training.checkpoint_of(str(foreign))
    assert training.resolve_checkpoint(str(foreign / 'epoch_5.pth')) == str(foreign / 'epoch_5.pth')


def test_inputs_are_the_label_folders_and_start_checkpoints(tmp_path):
    from helpers.hand_made_voc import mark_complete
    labels = tmp_path / 'ir_labels'
    mark_complete(str(labels), 'ir_labels', dict(conf_fg_thres=0.35))
    start = tmp_path / 'classifier.pth'
    start.write_bytes(b'weights')
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'advcam', 'irnet_r18-w16_100ep_embedded.py'))
    cfg.train_dataloader.dataset.mask_dir = str(labels)
    cfg.model.backbone.init_cfg.checkpoint = str(start)
    inputs = training.training_inputs(cfg)
    assert inputs['masks_0'] == dict(path=str(labels), manifest=read_manifest(str(labels))['digest'])
    assert inputs['model.backbone.init_cfg'] == dict(path=str(start), sha256=file_sha256(str(start)))
    # the semi-supervised dataset: both parts' folders (ground truth without a manifest is fine)
    semi = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'advcam', 'cct_r18-w16_600it_embedded-semi.py'))
    semi.train_dataloader.dataset.weak.mask_dir = str(labels)
    semi.model.backbone.init_cfg.checkpoint = str(tmp_path / 'absent.pth')  # not a file: not an input
    inputs = training.training_inputs(semi)
    assert sorted(inputs) == ['masks_0', 'masks_1']
    assert {entry['manifest'] for entry in inputs.values()} == {None, read_manifest(str(labels))['digest']}
