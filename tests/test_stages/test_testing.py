"""Testing stage (tools/test.py): metrics.json and the manifest, rerun / refuse / regenerate."""
import json
import os.path as osp
import shutil

import pytest
import torch

from advcam_mm.fileio.manifest import read_manifest
from advcam_mm.stages import testing
from advcam_mm.stages.output_folder import StageMismatchError
from conftest import TINY_CLASSIFIER_CONFIG, embedded_data_options, mtimes, options_dict, split_file


def test_tests_then_skips_refuses_and_regenerates(trained_tiny_classifier, embedded_voc_root, tmp_path):
    _, checkpoint = trained_tiny_classifier
    split = split_file(embedded_voc_root, 'val', 8, tmp_path / 'val8.txt')
    work_dir = str(tmp_path / 'test')
    options = [*embedded_data_options(embedded_voc_root), f'test_dataloader.dataset.ann_file={split}']
    metrics = testing.run(TINY_CLASSIFIER_CONFIG, checkpoint, work_dir, cfg_options=options_dict(options))
    assert set(metrics) >= {'cls/mAP', 'cls/F1'} and 0 < metrics['cls/mAP'] <= 100
    with open(osp.join(work_dir, 'metrics.json')) as f:
        assert json.load(f) == metrics
    manifest = read_manifest(work_dir)
    assert manifest['status'] == 'complete' and manifest['settings']['tta'] is False
    assert manifest['outputs']['cls/mAP'] == metrics['cls/mAP']
    before = mtimes(work_dir, '*.json')

    assert testing.run(TINY_CLASSIFIER_CONFIG, checkpoint, work_dir, cfg_options=options_dict(options)) == metrics
    assert mtimes(work_dir, '*.json') == before
    stricter = options + ['test_evaluator.threshold=0.9']
    with pytest.raises(StageMismatchError, match="settings.evaluator.threshold: '<absent>' -> 0.9"):
        testing.run(TINY_CLASSIFIER_CONFIG, checkpoint, work_dir, cfg_options=options_dict(stricter))
    other = str(tmp_path / 'other.pth')
    state = torch.load(checkpoint, map_location='cpu', weights_only=False)
    state['state_dict']['classifier.weight'] = -state['state_dict']['classifier.weight']
    torch.save(state, other)
    with pytest.raises(StageMismatchError, match=r'inputs\.checkpoint\.sha256: '):
        testing.run(TINY_CLASSIFIER_CONFIG, other, work_dir, cfg_options=options_dict(options))
    assert mtimes(work_dir, '*.json') == before

    remade = testing.run(TINY_CLASSIFIER_CONFIG, other, work_dir, cfg_options=options_dict(options), regenerate=True)
    assert remade['cls/mAP'] != metrics['cls/mAP']  # the negated classifier ranks the classes otherwise
    with open(osp.join(work_dir, 'metrics.json')) as f:
        assert json.load(f) == remade
    assert testing.default_work_dir('c.py', '/w/iter_20000.pth', True) == '/w/test_iter_20000_tta'
    shutil.rmtree(work_dir)
