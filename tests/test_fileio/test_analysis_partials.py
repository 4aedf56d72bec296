"""Fig. 6 analysis files: per-image partials round trip and refuse what does not fit; the CSV rows."""
import csv
import os.path as osp

import numpy as np
import pytest

from advcam_mm.fileio.analysis_partials import (load_partials, partial_path, save_partials, setting_tag,
                                                write_analysis_csv)

SETTING = dict(mask_coef=7.0, mask_thresh=0.5, step_size=0.08)


def partials(steps=3, thresholds=2):
    rng = np.random.default_rng(0)
    return dict(classes=np.array([0, 2]), confusions=rng.integers(0, 100, (steps, thresholds, 2, 2)),
                added=rng.integers(0, 50, (steps, thresholds)), noise=rng.integers(0, 5, (steps, thresholds)))


def test_round_trip_and_path(tmp_path):
    assert setting_tag(SETTING) == 'coef7_thresh0.5_step0.08'
    path = partial_path(str(tmp_path), SETTING, 'img_3')
    assert path == osp.join(str(tmp_path), 'partials', 'coef7_thresh0.5_step0.08', 'img_3.npz')
    written = partials()
    save_partials(path, written)
    loaded = load_partials(path, 3, 2)
    for key, value in written.items():
        assert loaded[key].dtype == np.int64
        np.testing.assert_array_equal(loaded[key], value)


def test_files_that_do_not_fit_are_named(tmp_path):
    path = partial_path(str(tmp_path), SETTING, 'a')
    with pytest.raises(FileNotFoundError, match='a.npz: partial analysis result not found'):
        load_partials(path, 3, 2)
    save_partials(path, partials())
    with pytest.raises(ValueError, match=r'a.npz: counts of shape \(3, 2, 2, 2\) do not match 4 steps and 2'):
        load_partials(path, 4, 2)
    with open(path, 'wb') as f:
        f.write(b'garbage')
    with pytest.raises(ValueError, match='a.npz: not a readable partial analysis result'):
        load_partials(path, 3, 2)


def test_csv_has_one_row_per_setting_and_iteration(tmp_path):
    result = dict(settings=[SETTING, dict(SETTING, mask_coef=0.0)], steps=2,
                  miou=np.array([[0.4, 0.5], [0.4, 0.45]]), best_threshold=np.array([[0.1, 0.15], [0.1, 0.2]]),
                  noise=np.array([[np.nan, 0.25], [np.nan, 0.5]]), added=np.array([[0, 8], [0, 10]]),
                  noise_pixels=np.array([[0, 2], [0, 5]]), noise_threshold=0.1, num_images=3)
    write_analysis_csv(result, str(tmp_path / 'analysis.csv'))
    with open(tmp_path / 'analysis.csv') as f:
        rows = list(csv.DictReader(f))
    assert [(r['mask_coef'], r['t']) for r in rows] == [('7', '1'), ('7', '2'), ('0', '1'), ('0', '2')]
    assert rows[1]['seed_miou'] == '50.0000' and rows[1]['noise_proportion'] == '25.0000'
    assert rows[0]['noise_proportion'] == '' and rows[3]['best_threshold'] == '0.2'
    assert rows[3]['added_pixels'] == '10' and rows[3]['noise_pixels'] == '5' and rows[3]['num_images'] == '3'
