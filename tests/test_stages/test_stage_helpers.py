"""What the stages share: configs with errors naming the file, splits and dataset identities, progress lines."""
import io
import os.path as osp

import pytest
from mmengine.config import Config

from advcam_mm.fileio.manifest import file_sha256
from advcam_mm.stages.datasets import build_dataset, dataset_input, evaluation_dataset, split_settings
from advcam_mm.stages.progress import RankZeroProgress
from advcam_mm.stages.runner import ConfigError, enable_amp, load_config
from advcam_mm.stages.worker_pool import check_files_exist
from conftest import TINY_CLASSIFIER_CONFIG


def test_config_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match='none.py: config file not found'):
        load_config(str(tmp_path / 'none.py'))
    broken = tmp_path / 'broken.py'
    broken.write_text('model = dict(\n')
    with pytest.raises(ConfigError, match=f'{broken}: cannot load config'):
        load_config(str(broken))
    cfg = load_config(TINY_CLASSIFIER_CONFIG, {'train_cfg.max_epochs': 2})
    assert cfg.train_cfg.max_epochs == 2 and cfg.work_dir == osp.join('./work_dirs', 'cam_r18-w16_30ep_embedded')
    assert load_config(TINY_CLASSIFIER_CONFIG, work_dir='/w').work_dir == '/w'
    enable_amp(cfg)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper' and cfg.optim_wrapper.loss_scale == 'dynamic'


def test_splits_and_dataset_identity(embedded_voc_root, mmseg_scope):
    dataset_cfg = dict(type='VOCSegmentationDataset', data_root=embedded_voc_root, ann_file='unused.txt')
    assert split_settings(dataset_cfg, 'val') == dict(ann_file='ImageSets/Segmentation/val.txt')
    assert split_settings(dataset_cfg, '/lists/mine.txt') == dict(ann_file='/lists/mine.txt')
    dataset = build_dataset(dataset_cfg, 'val')
    assert len(dataset) == 40 and dataset.get_data_info(0)['img_id'] == 'val_0000'
    identity = dataset_input(dataset)
    # the generator's manifest identifies the data: a regenerated dataset is another input
    assert identity['sha256'] == file_sha256(osp.join(embedded_voc_root, 'embedded_manifest.json'))
    assert identity['path'] == embedded_voc_root
    cfg = Config.fromfile(TINY_CLASSIFIER_CONFIG)
    cfg.val_dataloader.dataset.data_root = embedded_voc_root
    evaluation = evaluation_dataset(cfg)
    assert len(evaluation) == 60 and evaluation.get_data_info(0)['seg_map_path'].endswith(
        osp.join('SegmentationClass', 'train_0000.png'))
    cfg.label_evaluation = None
    with pytest.raises(ValueError, match='the config has no label_evaluation'):
        evaluation_dataset(cfg)


def test_progress_counts_skipped_items_but_not_in_the_rate():
    stream = io.StringIO()
    progress = RankZeroProgress(4, stream=stream, title='maps', log_interval=0.0)
    progress.update(skipped=True)
    progress.update(skipped=True)
    progress.update()
    progress.update()
    lines = stream.getvalue().splitlines()
    assert lines[-1].startswith('maps: 4/4, ') and lines[-1].endswith('images/s, ETA 00:00')
    assert progress.computed == 2 and progress.done == 4
    silent = io.StringIO()
    other_rank = RankZeroProgress(4, rank=1, stream=silent)
    other_rank.update()
    assert silent.getvalue() == ''


def test_missing_files_are_named_before_any_work(tmp_path):
    (tmp_path / 'a.npy').write_bytes(b'')
    check_files_exist([str(tmp_path / 'a.npy')], 'class-map file')
    with pytest.raises(FileNotFoundError, match=r'b.npy: class-map file not found \(and 1 more\) \(run it\)'):
        check_files_exist([str(tmp_path / n) for n in ('a.npy', 'b.npy', 'c.npy')], 'class-map file', ' (run it)')
