"""Seed-evaluation stage: known answers on hand-made maps (in process and in workers), the CRF, errors,
the tool's table and metrics, rerun / refuse / regenerate, and SeedMetric in an Evaluator on real maps."""
import json
import os
import os.path as osp
import shutil

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator

from advcam_mm.fileio.cam_files import cam_file_path, load_cam_file
from advcam_mm.fileio.label_png import load_label_png
from advcam_mm.fileio.manifest import read_manifest
from advcam_mm.stages import seed_evaluation
from advcam_mm.stages.output_folder import StageMismatchError
from conftest import TINY_CLASSIFIER_CONFIG, embedded_data_options, mtimes
from helpers.hand_made_voc import CLASSES, evaluation_config, upscale, write_maps, write_voc
from test_evaluation.test_seed_metric import CELL, GT_A, GT_B, MAP_A, MAP_B, MIOU_02, MIOU_05


def write_case(tmp_path, images=(('a', GT_A, [0], MAP_A), ('b', GT_B, [1], MAP_B)), cell=CELL):
    """VOC root, class maps with their manifest, the infos of the images and an evaluation config."""
    root = write_voc(str(tmp_path / 'VOC2012'), {i: upscale(gt, cell) for i, gt, _, _ in images},
                     dict(train=[i for i, *_ in images]))
    cam_dir = write_maps(str(tmp_path / 'cams'), {i: (keys, upscale(m, cell)[None]) for i, _, keys, m in images})
    infos = [dict(img_id=i, img_path=osp.join(root, 'JPEGImages', f'{i}.jpg'),
                  seg_map_path=osp.join(root, 'SegmentationClass', f'{i}.png')) for i, *_ in images]
    return root, cam_dir, infos, evaluation_config(str(tmp_path / 'eval.py'), root)


def test_known_answer_in_process_and_in_workers(tmp_path):
    _, cam_dir, infos, _ = write_case(tmp_path)
    result = seed_evaluation.evaluate_seeds(infos, cam_dir, CLASSES, thresholds='0.2,0.5', num_workers=0,
                                            progress=False)
    assert result['best_threshold'] == 0.2
    assert result['miou'] == pytest.approx(MIOU_02) == pytest.approx(0.8)
    np.testing.assert_allclose(result['iou'], [11 / 15, 8 / 12, 1])
    np.testing.assert_allclose(result['miou_curve'], [MIOU_02, MIOU_05])
    assert result['class_names'] == list(CLASSES) and result['num_images'] == 2
    in_workers = seed_evaluation.evaluate_seeds(infos, cam_dir, CLASSES, thresholds='0.2,0.5', num_workers=2,
                                                progress=True)
    for key in ('best_threshold', 'miou', 'iou', 'miou_curve', 'thresholds'):
        assert in_workers[key] == result[key]
    # in the full sweep the thresholds 0.31..0.39 lie between the maps' 0.3 (stored as float16 0.30005)
    # and 0.4: perfect seeds
    sweep = seed_evaluation.evaluate_seeds(infos, cam_dir, CLASSES, num_workers=0, progress=False)
    assert len(sweep['miou_curve']) == 56
    assert sweep['best_threshold'] == 0.31 and sweep['miou'] == 1.0
    curve = dict(zip(sweep['thresholds'], sweep['miou_curve']))
    assert curve[0.1] == curve[0.3] == pytest.approx(MIOU_02)
    assert curve[0.39] == 1.0 and curve[0.4] == curve[0.5] == pytest.approx(MIOU_05)


def test_crf_follows_image_colours(tmp_path):
    # each seed error is a band of the wrong colour, smaller than the region of that colour
    gt_a = np.array([[1, 1, 0, 0, 0, 0, 0, 0]] * 4)
    map_a = np.array([[0.8, 0.8, 0.3, 0.1, 0.1, 0.1, 0.1, 0.1]] * 4)  # spills at 0.2
    gt_b = np.array([[2] * 4] * 3 + [[0] * 4] * 5)
    map_b = np.array([[0.9] * 4] * 2 + [[0.4] * 4] + [[0.0] * 4] * 5)  # misses row 2 at 0.5
    _, cam_dir, infos, _ = write_case(tmp_path, images=(('a', gt_a, [0], map_a), ('b', gt_b, [1], map_b)))
    result = seed_evaluation.evaluate_seeds(infos, cam_dir, CLASSES, thresholds='0.2,0.5', crf=True,
                                            num_workers=2, progress=False)
    assert result['best_threshold'] == result['crf_threshold'] == 0.5
    assert result['miou'] < 0.9 and result['crf_miou'] == 1.0
    at_02 = seed_evaluation.evaluate_seeds(infos, cam_dir, CLASSES, thresholds='0.2,0.5', crf=True,
                                           crf_threshold=0.2, num_workers=0, progress=False)
    assert at_02['crf_threshold'] == 0.2 and at_02['crf_miou'] == 1.0
    np.testing.assert_array_equal(at_02['crf_iou'], [1, 1, 1])


def test_errors_name_the_file(tmp_path):
    root, cam_dir, infos, config = write_case(tmp_path)
    os.remove(osp.join(root, 'SegmentationClass', 'a.png'))
    with pytest.raises(FileNotFoundError, match='a.png'):
        seed_evaluation.evaluate_seeds(infos, cam_dir, CLASSES, progress=False)
    os.remove(osp.join(cam_dir, 'b.npy'))
    with pytest.raises(FileNotFoundError, match='b.npy: class-map file not found.*make_cams'):
        seed_evaluation.evaluate_seeds(infos, cam_dir, CLASSES, num_workers=2, progress=False)
    with pytest.raises(FileNotFoundError, match='val.txt'):
        seed_evaluation.run(config, cam_dir, split='val', out_dir=str(tmp_path / 'out'), progress=False)
    small = np.zeros((2, 2))
    _, cam_dir, infos, _ = write_case(tmp_path / 'small', images=(('a', GT_A, [0], MAP_A), ('c', small, [0], MAP_A)))
    with pytest.raises(ValueError, match='c.npy: maps of size .* but ground truth .*c.png is'):
        seed_evaluation.evaluate_seeds(infos, cam_dir, CLASSES, num_workers=2, progress=False)
    _, cam_dir, infos, _ = write_case(tmp_path / 'key', images=(('a', GT_A, [5], MAP_A),))
    with pytest.raises(ValueError, match='a.npy: class id 5'):
        seed_evaluation.evaluate_seeds(infos, cam_dir, CLASSES, num_workers=0, progress=False)


def test_tool_prints_the_table_and_reruns_refuses_regenerates(tmp_path, capsys):
    _, cam_dir, _, config = write_case(tmp_path)
    out_dir = str(tmp_path / 'seeds')
    argv = [config, '--cam-dir', cam_dir, '--out-dir', out_dir, '--num-workers', '0']
    seed_evaluation.main(argv)
    printed = capsys.readouterr().out
    assert 'best background threshold: 0.31' in printed and 'seed mIoU: 100.00' in printed
    lines = printed.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ['class', 'Seed'])
    assert [line.split()[0] for line in lines[header + 2:header + 5]] == list(CLASSES)  # the config's names
    with open(osp.join(out_dir, 'metrics.json')) as f:
        saved = json.load(f)
    assert saved['class_names'] == list(CLASSES) and saved['miou'] == 1.0 and 'crf_miou' not in saved
    manifest = read_manifest(out_dir)
    assert manifest['settings']['split'] == 'train' and manifest['settings']['crf'] is False
    assert manifest['inputs']['class_maps']['manifest'] == read_manifest(cam_dir)['digest']
    before = mtimes(out_dir)

    seed_evaluation.main(argv)
    assert 'seed mIoU: 100.00' in capsys.readouterr().out and mtimes(out_dir) == before
    with pytest.raises(StageMismatchError, match="settings.crf: False -> '<absent>'\n  settings.crf.bilateral_compat: '<absent>' -> 10"):
        seed_evaluation.main(argv + ['--crf'])
    assert mtimes(out_dir) == before
    seed_evaluation.main(argv + ['--crf', '--crf-threshold', '0.2', '--regenerate'])
    printed = capsys.readouterr().out
    assert mtimes(out_dir)[osp.join(out_dir, 'metrics.json')] != before[osp.join(out_dir, 'metrics.json')]
    with open(osp.join(out_dir, 'metrics.json')) as f:
        saved = json.load(f)
    assert saved['crf_threshold'] == 0.2 and saved['miou'] == 1.0
    assert f"+CRF at threshold 0.20: mIoU {100 * saved['crf_miou']:.2f}" in printed
    assert read_manifest(out_dir)['settings']['crf_threshold'] == 0.2


def test_seed_metric_in_an_evaluator_equals_the_stage(trained_tiny_classifier, embedded_voc_root,
                                                      small_train_split, cam_maps, tmp_path, mmseg_scope):
    """The registered metric, fed the classifier's maps and the ground truth, reports the stage's seed mIoU."""
    from conftest import options_dict
    from advcam_mm.datasets.embedded_dataset import EMBEDDED_CLASSES
    result = seed_evaluation.run(TINY_CLASSIFIER_CONFIG, cam_maps, split=small_train_split,
                                 out_dir=str(tmp_path / 'seeds'), num_workers=0, progress=False,
                                 cfg_options=options_dict(embedded_data_options(embedded_voc_root)))
    assert result['class_names'] == list(EMBEDDED_CLASSES) and result['num_images'] == 4
    evaluator = Evaluator(dict(type='SeedMetric'))
    evaluator.dataset_meta = dict(classes=EMBEDDED_CLASSES)
    with open(small_train_split) as f:
        ids = f.read().split()
    for image_id in ids:
        maps = load_cam_file(cam_file_path(cam_maps, image_id))
        gt = load_label_png(osp.join(embedded_voc_root, 'SegmentationClass', f'{image_id}.png'))
        evaluator.process([dict(pred_class_maps=dict(keys=torch.from_numpy(maps['keys']),
                                                     high_res=torch.from_numpy(maps['high_res'])),
                                gt_sem_seg=dict(data=torch.from_numpy(gt.astype(np.int64))[None]))])
    metrics = evaluator.evaluate(len(ids))
    assert metrics['seed/mIoU'] == pytest.approx(100 * result['miou'], abs=1e-9)
    assert metrics['seed/threshold'] == result['best_threshold']
    assert 0 < result['miou'] < 1  # real maps: neither empty nor perfect
    shutil.rmtree(str(tmp_path / 'seeds'))
