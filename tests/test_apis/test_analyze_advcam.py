"""Fig. 6 analysis: per-iteration maps, noise counts, equality with eval_seeds, resume, ranks."""
import csv
import glob
import json
import os
import os.path as osp

import numpy as np
import pytest
import torch
from PIL import Image

from advcam_mm.apis.analyze_advcam import (advcam_prefix_maps, analyze_advcam, check_run_file,
                                           compute_analysis_partials, image_partials, noise_counts,
                                           partial_path, save_partials, summarize_analysis, sweep_settings)
from advcam_mm.core.advcam import advcam_maps
from advcam_mm.core.miou import confusion_matrix
from advcam_mm.core.seeds import seeds_from_maps
from conftest import embedded_data_options, run_tool
from test_core.cam_reference import tiny_net

THRESHOLDS = '0.05:0.60:0.05'
CLIMB = dict(steps=3, scales=(1.0, 0.5), flip=True)
NUM_IMAGES = 4


@pytest.mark.parametrize('steps', [7, 12])
def test_prefix_maps_are_advcam_maps_of_every_iteration(steps):
    """t = steps and earlier t, through both branches of the 0.5 scale's schedule (5 steps; half, x2)."""
    net = tiny_net()
    torch.manual_seed(0)
    weight = torch.randn(4, 16, dtype=torch.float64)
    image = torch.randn(3, 20, 28, dtype=torch.float64)
    scales = (1.0, 0.5, 1.5)
    prefix = advcam_prefix_maps(net, weight, image, [0, 2], scales=scales, steps=steps)
    assert prefix['high_res'].shape == (steps, 2, 20, 28) and prefix['strided'].shape == (steps, 2, 5, 7)
    for t in sorted({1, 4, 6, steps}):
        expected = advcam_maps(net, weight, image, [0, 2], scales=scales, steps=t)
        torch.testing.assert_close(prefix['high_res'][t - 1], expected['high_res'], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(prefix['strided'][t - 1], expected['strided'], rtol=1e-12, atol=1e-12)
    single = advcam_prefix_maps(net, weight, image, [1], scales=(1.0,), steps=4, mask_coef=0.0)
    torch.testing.assert_close(single['high_res'][2], advcam_maps(net, weight, image, [1], scales=(1.0,), steps=3,
                                                                  mask_coef=0.0)['high_res'])
    empty = advcam_prefix_maps(net, weight, image, [], scales=scales, steps=3)
    assert empty['high_res'].shape == (3, 0, 20, 28)


def test_noise_counts_on_a_hand_made_case():
    # pixel:        0    1    2    3    4    5    6
    gt = np.array([[0, 1, 1, 1, 0, 255, 0]])
    first = np.array([[0.1, 0.9, 0.1, 0.1, 0.1, 0.1, 0.9]], np.float32)
    scores = np.stack([first,
                       [[0.6, 0.9, 0.6, 0.1, 0.1, 0.9, 0.1]],   # adds 0 (bg) and 2; 5 is ignored; 6 leaves
                       [[0.6, 0.9, 0.6, 0.6, 0.6, 0.9, 0.1]]])  # adds 0 (bg), 2, 3, 4 (bg)
    added, noise = noise_counts(first, scores.astype(np.float32), gt, [0.5, 0.05])
    # at 0.05 every valid pixel is already foreground at t = 1: nothing can be added
    np.testing.assert_array_equal(added, [[0, 0], [2, 0], [4, 0]])
    np.testing.assert_array_equal(noise, [[0, 0], [1, 0], [2, 0]])
    # a threshold equal to a score: foreground needs score > threshold
    added, noise = noise_counts(first, scores.astype(np.float32), gt, [0.6])
    np.testing.assert_array_equal(added, [[0], [0], [0]])


def _object_maps(gt, label, grow):
    """Max-normalised (T, 1, H, W) maps of ``label``: a core at t = 1, the whole object from t = ``grow``."""
    obj = (gt == label).astype(np.float32)
    core = np.zeros_like(obj)
    rows, cols = np.nonzero(obj)
    core[rows[: len(rows) // 3], cols[: len(cols) // 3]] = 1.0
    return np.stack([(core if t < grow else obj)[None] for t in range(3)])


def test_noise_is_zero_when_the_map_becomes_the_ground_truth_and_partials_sum_right(tmp_path):
    gt = np.zeros((12, 16), np.uint8)
    gt[2:9, 3:12] = 2
    gt[0, :] = 255
    maps = _object_maps(gt, 2, grow=1)
    maps = np.where(gt == 255, 0, maps)
    partials = image_partials(maps, [1], gt, [0.3, 0.5], num_classes=4)
    np.testing.assert_array_equal(partials['classes'], [0, 2])
    assert partials['added'][1:].min() > 0 and partials['noise'].max() == 0
    # the confusions are those of the seeds at each t and threshold
    for t in range(3):
        for j, threshold in enumerate([0.3, 0.5]):
            full = confusion_matrix(seeds_from_maps(maps[t], [1], threshold), gt, 4)
            np.testing.assert_array_equal(partials['confusions'][t, j], full[np.ix_([0, 2], [0, 2])])
    # a second image whose map grows at t = 3 and spills onto one background row (16 pixels)
    gt_b = np.zeros((12, 16), np.uint8)
    gt_b[2:9, 3:12] = 1
    maps_b = _object_maps(gt_b, 1, grow=2)
    maps_b[2, 0, 9, :] = 1.0
    partials_b = image_partials(maps_b, [0], gt_b, [0.3, 0.5], num_classes=4)
    setting = sweep_settings(dict(mask_coef=7, mask_thresh=0.5, step_size=0.08))[0]
    save_partials(partial_path(str(tmp_path), setting, 'a'), partials)
    save_partials(partial_path(str(tmp_path), setting, 'b'), partials_b)
    result = summarize_analysis(str(tmp_path), ['a', 'b'], [setting], [0.3, 0.5], 4, 3, noise_threshold=0.5)
    grown = 63 - 63 // 3  # object pixels outside the core
    np.testing.assert_array_equal(result['added'][0], [0, grown, grown + grown + 16])
    np.testing.assert_array_equal(result['noise_pixels'][0], [0, 0, 16])
    assert np.isnan(result['noise'][0, 0]) and result['noise'][0, 1] == 0
    assert result['noise'][0, 2] == pytest.approx(16 / (2 * grown + 16))  # pixel-weighted over the images
    assert result['noise_threshold'] == 0.5 and result['miou'][0, 1] > result['miou'][0, 0]


def test_sweep_settings():
    base = dict(mask_coef=7.0, mask_thresh=0.5, step_size=0.08, steps=27)
    settings = sweep_settings(base, '0,7', '0.3,0.5', '0.08,0.16')
    assert settings == [dict(mask_coef=7.0, mask_thresh=0.5, step_size=0.08),
                        dict(mask_coef=0.0, mask_thresh=0.5, step_size=0.08),
                        dict(mask_coef=7.0, mask_thresh=0.3, step_size=0.08),
                        dict(mask_coef=7.0, mask_thresh=0.5, step_size=0.16)]
    with pytest.raises(ValueError, match='bad mask_coef'):
        sweep_settings(base, '0,x')


@pytest.fixture(scope='module')
def analysis(trained_tiny_classifier, embedded_voc_root, tmp_path_factory):
    """The analysis of the first train images, in this process: (model, dataset, result, out_dir, settings)."""
    import advcam_mm  # noqa: F401
    from advcam_mm.apis.make_cams import build_cam_model, split_dataset
    from advcam_mm.apis.runner import load_config
    config, checkpoint = trained_tiny_classifier
    options = dict(option.split('=', 1) for option in embedded_data_options(embedded_voc_root))
    cfg = load_config(config, options)
    model = build_cam_model(cfg, checkpoint)
    dataset = split_dataset(cfg, 'train')
    out_dir = str(tmp_path_factory.mktemp('analysis'))
    settings = sweep_settings(dict(mask_coef=7.0, mask_thresh=0.5, step_size=0.08), mask_coefs='0')
    preprocessor = cfg.model.data_preprocessor
    result = analyze_advcam(model, dataset, embedded_voc_root, out_dir, settings, CLIMB, preprocessor['mean'],
                            preprocessor['std'], dataset.metainfo['classes'], thresholds=THRESHOLDS,
                            num=NUM_IMAGES, show_progress=False)
    return model, dataset, result, out_dir, settings, preprocessor


def test_last_iteration_equals_eval_seeds_on_the_same_maps(analysis, embedded_voc_root, tmp_path):
    from advcam_mm.apis.eval_seeds import evaluate_seeds
    from advcam_mm.apis.make_cams import class_maps_of_image, normalise_image, read_rgb
    from advcam_mm.fileio import cam_file_path, save_cam_file
    model, dataset, result, _, settings, preprocessor = analysis
    assert result['miou'].shape == (2, 3) and result['num_images'] == NUM_IMAGES
    ids = []
    for s, setting in enumerate(settings):
        cam_dir = str(tmp_path / f'maps{s}')
        ids = []
        for index in range(NUM_IMAGES):  # what tools/make_cams.py writes for this setting
            info = dataset.get_data_info(index)
            image = normalise_image(read_rgb(info['img_path']), preprocessor['mean'], preprocessor['std'], 'cpu')
            class_ids = torch.as_tensor(np.flatnonzero(info['gt_class_labels'] > 0))
            maps = class_maps_of_image(model, image, class_ids, dict(CLIMB, method='advcam', **setting))
            save_cam_file(cam_file_path(cam_dir, info['img_id']), maps['keys'], maps['strided'], maps['high_res'])
            ids.append(info['img_id'])
        split_file = tmp_path / 'ids.txt'
        split_file.write_text('\n'.join(ids) + '\n')
        seeds = evaluate_seeds(cam_dir, embedded_voc_root, split=str(split_file), thresholds=THRESHOLDS,
                               num_workers=0, class_names=dataset.metainfo['classes'], progress=False)
        assert result['miou'][s, -1] == pytest.approx(seeds['miou'], abs=1e-12)
        assert result['best_threshold'][s, -1] == pytest.approx(seeds['best_threshold'])
        np.testing.assert_allclose(result['iou'][s, -1], seeds['iou'], atol=1e-12)
    # t = 1 is the same CAM for every setting
    assert result['miou'][0, 0] == result['miou'][1, 0]
    with open(result['csv']) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * CLIMB['steps'] and rows[-1]['t'] == str(CLIMB['steps'])
    assert float(rows[-1]['seed_miou']) == pytest.approx(100 * result['miou'][1, -1], abs=1e-4)
    sizes = [Image.open(path).size for path in result['plots']]
    assert sizes == [(1100, 420), (460, 420)]  # Fig. 6a/b; Fig. 6c (lambda swept), 6d/e left out


def test_two_ranks_write_the_partials_of_one(analysis, embedded_voc_root, tmp_path):
    model, dataset, result, _, settings, preprocessor = analysis
    out_dir = str(tmp_path / 'ranks')
    counts = [compute_analysis_partials(model, dataset, embedded_voc_root, out_dir, settings, CLIMB, THRESHOLDS, 5,
                                        preprocessor['mean'], preprocessor['std'], num=NUM_IMAGES, rank=rank,
                                        world_size=2, show_progress=False) for rank in (0, 1)]
    assert [c['written'] for c in counts] == [4, 4]  # 2 images x 2 settings each
    ids = [dataset.get_data_info(i)['img_id'] for i in range(NUM_IMAGES)]
    ranked = summarize_analysis(out_dir, ids, settings, THRESHOLDS, 5, CLIMB['steps'])
    np.testing.assert_array_equal(ranked['miou'], result['miou'])
    np.testing.assert_array_equal(ranked['noise'], result['noise'])


def _tool_args(config, checkpoint, data_root, out_dir):
    return ['tools/analyze_advcam.py', config, checkpoint, '--data-root', data_root, '--split', 'train',
            '--num', str(NUM_IMAGES), '--steps', '3', '--scales', '1.0,0.5', '--mask-coefs', '0,7',
            '--thresholds', THRESHOLDS, '--out-dir', out_dir]


def test_tool_resumes_from_cached_partials(trained_tiny_classifier, embedded_voc_root, tmp_path):
    config, checkpoint = trained_tiny_classifier
    out_dir = str(tmp_path / 'analysis')
    args = _tool_args(config, checkpoint, embedded_voc_root, out_dir)
    first = run_tool(args)
    assert 'computed 8, skipped 0' in first.stdout and 'mIoU t=3' in first.stdout
    assert osp.isfile(osp.join(out_dir, 'fig6ab.png')) and osp.isfile(osp.join(out_dir, 'fig6cde.png'))
    with open(osp.join(out_dir, 'analysis.csv')) as f:
        before_csv = f.read()
    partials = sorted(glob.glob(osp.join(out_dir, 'partials', '*', '*.npz')))
    assert len(partials) == 8
    removed = partials[::3]  # as if the run had been killed before writing these
    for path in removed:
        os.remove(path)
    kept = {p: os.stat(p).st_mtime_ns for p in partials if p not in removed}
    second = run_tool(args)
    assert f'computed {len(removed)}, skipped {len(kept)} cached' in second.stdout
    assert all(os.stat(p).st_mtime_ns == mtime for p, mtime in kept.items())
    with open(osp.join(out_dir, 'analysis.csv')) as f:
        assert f.read() == before_csv
    # partials made with other settings are refused, naming the file and the change
    with open(osp.join(out_dir, 'partials', 'run.json')) as f:
        run = json.load(f)
    assert run['steps'] == 3 and run['checkpoint'] == osp.abspath(checkpoint)
    with pytest.raises(ValueError, match=r'run\.json.*steps: 3 -> 4'):
        check_run_file(out_dir, dict(run, steps=4))
