"""Fig. 6 analysis stage: t = T equals the class-map + seed-evaluation stages, ranks split the partials,
a rerun computes only what is missing, other settings are refused, --regenerate remakes."""
import csv
import glob
import os
import os.path as osp

import numpy as np
import pytest

from advcam_mm.evaluation.advcam_iterations import iteration_curves
from advcam_mm.evaluation.seed_metric import SEED_THRESHOLDS, parse_thresholds
from advcam_mm.fileio.analysis_partials import load_partials, partial_path
from advcam_mm.fileio.manifest import read_manifest
from advcam_mm.stages import advcam_analysis, class_maps, seed_evaluation
from advcam_mm.stages.advcam_analysis import sweep_settings
from advcam_mm.stages.output_folder import StageMismatchError
from conftest import embedded_data_options, mtimes, options_dict, split_file

NUM_IMAGES = 4
STEPS = 3


def test_sweep_settings():
    base = dict(mask_coef=7.0, mask_thresh=0.5, step_size=0.08, steps=27)
    settings = sweep_settings(base, '0,7', '0.3,0.5', '0.08,0.16')
    assert settings == [dict(mask_coef=7.0, mask_thresh=0.5, step_size=0.08),
                        dict(mask_coef=0.0, mask_thresh=0.5, step_size=0.08),
                        dict(mask_coef=7.0, mask_thresh=0.3, step_size=0.08),
                        dict(mask_coef=7.0, mask_thresh=0.5, step_size=0.16)]
    assert sweep_settings(base) == settings[:1]
    with pytest.raises(ValueError, match='bad mask_coef'):
        sweep_settings(base, '0,x')


def analysis_argv(classifier, data_root, out_dir, *extra, steps=STEPS):
    config, checkpoint = classifier
    return [config, checkpoint, '--out-dir', str(out_dir), '--num-images', str(NUM_IMAGES), '--steps', str(steps),
            '--mask-coefs', '0', *extra, '--cfg-options', *embedded_data_options(data_root)]


@pytest.fixture(scope='module')
def analysis(trained_tiny_classifier, embedded_voc_root, tmp_path_factory):
    """The analysis of the first 4 train images, 3 steps, lambda 7 (the config's) and 0: (out_dir, result)."""
    config, checkpoint = trained_tiny_classifier
    out_dir = str(tmp_path_factory.mktemp('analysis'))
    result = advcam_analysis.run(config, checkpoint, out_dir, num=NUM_IMAGES, steps=STEPS, mask_coefs='0',
                                 cfg_options=options_dict(embedded_data_options(embedded_voc_root)))
    return out_dir, result


def test_last_iteration_equals_the_class_map_and_seed_stages(analysis, trained_tiny_classifier, embedded_voc_root,
                                                            tmp_path):
    out_dir, result = analysis
    config, checkpoint = trained_tiny_classifier
    assert result['miou'].shape == (2, STEPS) and result['num_images'] == NUM_IMAGES
    assert [s['mask_coef'] for s in result['settings']] == [7.0, 0.0]
    split = split_file(embedded_voc_root, 'train', NUM_IMAGES, tmp_path / 'first4.txt')
    for s, setting in enumerate(result['settings']):  # what make_cams + eval_seeds give for this setting
        options = options_dict(embedded_data_options(embedded_voc_root) +
                               [f'label_generation.steps={STEPS}', f"label_generation.mask_coef={setting['mask_coef']}"])
        maps = str(tmp_path / f'maps{s}')
        class_maps.run(config, checkpoint, maps, split, 'advcam', cfg_options=options, show_progress=False)
        seeds = seed_evaluation.run(config, maps, split=split, out_dir=str(tmp_path / f'seeds{s}'), num_workers=0,
                                    cfg_options=options, progress=False)
        assert result['miou'][s, -1] == pytest.approx(seeds['miou'], abs=1e-12)
        assert result['best_threshold'][s, -1] == pytest.approx(seeds['best_threshold'])
        np.testing.assert_allclose(result['iou'][s, -1], [np.nan if v is None else v for v in seeds['iou']],
                                   atol=1e-12)
    assert result['miou'][0, 0] == result['miou'][1, 0]  # t = 1 is the same CAM for every setting
    with open(result['csv']) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * STEPS and rows[-1]['t'] == str(STEPS)
    assert float(rows[-1]['seed_miou']) == pytest.approx(100 * result['miou'][1, -1], abs=1e-4)
    assert result['class_names'][1:] == ['beetle', 'kite', 'lantern', 'snail']
    sizes = [os.path.basename(p) for p in result['plots']]
    assert sizes == ['fig6ab.png', 'fig6cde.png']  # lambda swept: Fig. 6c
    manifest = read_manifest(out_dir)
    assert manifest['status'] == 'complete' and manifest['settings']['steps'] == STEPS
    assert manifest['outputs']['num_images'] == NUM_IMAGES and len(manifest['outputs']['settings_analysed']) == 2


def test_two_ranks_write_the_partials_of_one(analysis, trained_tiny_classifier, embedded_voc_root, tmp_path):
    from advcam_mm.stages.models import build_cam_model
    from advcam_mm.stages.runner import load_config
    from advcam_mm.stages.settings import normalisation
    _, result = analysis
    config, checkpoint = trained_tiny_classifier
    cfg = load_config(config, options_dict(embedded_data_options(embedded_voc_root)))
    cfg.label_generation.steps = STEPS
    folder, dataset, infos, climb, thresholds = advcam_analysis.describe(cfg, checkpoint, str(tmp_path), num=NUM_IMAGES)
    model = build_cam_model(cfg, checkpoint)
    mean, std = normalisation(cfg)
    counts = [advcam_analysis.compute_partials(model, infos, str(tmp_path), result['settings'], climb, thresholds, 5,
                                               mean, std, rank=rank, world_size=2, show_progress=False)
              for rank in (0, 1)]
    assert [c['written'] for c in counts] == [4, 4]  # 2 images x 2 settings each

    def partials_of(s):
        return (load_partials(partial_path(str(tmp_path), result['settings'][s], i['img_id']), STEPS,
                              len(thresholds)) for i in infos)
    ranked = iteration_curves(partials_of, result['settings'], parse_thresholds(SEED_THRESHOLDS), 5, STEPS)
    np.testing.assert_array_equal(ranked['miou'], result['miou'])
    np.testing.assert_array_equal(ranked['noise'], result['noise'])


def test_rerun_resumes_refuses_and_regenerates(trained_tiny_classifier, embedded_voc_root, tmp_path, capsys):
    out_dir = str(tmp_path / 'analysis')
    argv = analysis_argv(trained_tiny_classifier, embedded_voc_root, out_dir)
    advcam_analysis.main(argv)
    first = capsys.readouterr().out
    assert 'computed 8, kept 0 cached' in first and f'mIoU t={STEPS}' in first
    with open(osp.join(out_dir, 'analysis.csv')) as f:
        before_csv = f.read()
    partials = sorted(glob.glob(osp.join(out_dir, 'partials', '*', '*.npz')))
    assert len(partials) == 8
    everything = mtimes(out_dir, '*.*')
    advcam_analysis.main(argv)  # the same request: nothing is computed or rewritten
    assert 'computed 0, kept 8 cached' in capsys.readouterr().out
    assert mtimes(out_dir, '*.*') == everything and mtimes(out_dir, 'partials/*/*.npz') == {
        p: os.stat(p).st_mtime_ns for p in partials}

    removed = partials[::3]  # as if the run had been killed before writing these
    for path in removed:
        os.remove(path)
    kept = {p: os.stat(p).st_mtime_ns for p in partials if p not in removed}
    advcam_analysis.main(argv)
    assert f'computed {len(removed)}, kept {len(kept)} cached' in capsys.readouterr().out
    assert all(os.stat(p).st_mtime_ns == mtime for p, mtime in kept.items())
    with open(osp.join(out_dir, 'analysis.csv')) as f:
        assert f.read() == before_csv

    with pytest.raises(StageMismatchError, match=f'settings.steps: {STEPS} -> 2'):
        advcam_analysis.main(analysis_argv(trained_tiny_classifier, embedded_voc_root, out_dir, steps=2))
    advcam_analysis.main(analysis_argv(trained_tiny_classifier, embedded_voc_root, out_dir, '--regenerate', steps=2))
    assert 'computed 8, kept 0 cached' in capsys.readouterr().out  # the 3-step partials were removed
    with open(osp.join(out_dir, 'analysis.csv')) as f:
        assert len(list(csv.DictReader(f))) == 2 * 2
    assert read_manifest(out_dir)['settings']['steps'] == 2
