"""Fig. 6 counts: noise on a hand-made case, per-image partials equal the seeds' confusions, sums over images."""
import numpy as np
import pytest

from advcam_mm.core.miou import confusion_matrix
from advcam_mm.core.seeds import seeds_from_maps
from advcam_mm.evaluation.advcam_iterations import (format_analysis_table, image_partials, iteration_curves,
                                                    noise_counts)


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
    with pytest.raises(ValueError, match='must be .T, H, W.'):
        noise_counts(first, scores[0], gt, [0.5])


def _object_maps(gt, label, grow):
    """Max-normalised (T, 1, H, W) maps of ``label``: a core at t = 1, the whole object from t = ``grow``."""
    obj = (gt == label).astype(np.float32)
    core = np.zeros_like(obj)
    rows, cols = np.nonzero(obj)
    core[rows[: len(rows) // 3], cols[: len(cols) // 3]] = 1.0
    return np.stack([(core if t < grow else obj)[None] for t in range(3)])


def test_partials_are_the_seed_confusions_and_sum_over_images():
    gt = np.zeros((12, 16), np.uint8)
    gt[2:9, 3:12] = 2
    gt[0, :] = 255
    maps = np.where(gt == 255, 0, _object_maps(gt, 2, grow=1))
    partials = image_partials(maps, [1], gt, [0.3, 0.5], num_classes=4)
    np.testing.assert_array_equal(partials['classes'], [0, 2])
    assert partials['added'][1:].min() > 0 and partials['noise'].max() == 0  # the map became the object
    for t in range(3):  # the counts over the image's classes are those of the seeds at each t and threshold
        for j, threshold in enumerate([0.3, 0.5]):
            full = confusion_matrix(seeds_from_maps(maps[t], [1], threshold), gt, 4)
            np.testing.assert_array_equal(partials['confusions'][t, j], full[np.ix_([0, 2], [0, 2])])
    # a second image whose map grows at t = 3 and spills onto one background row (16 pixels)
    gt_b = np.zeros((12, 16), np.uint8)
    gt_b[2:9, 3:12] = 1
    maps_b = _object_maps(gt_b, 1, grow=2)
    maps_b[2, 0, 9, :] = 1.0
    partials_b = image_partials(maps_b, [0], gt_b, [0.3, 0.5], num_classes=4)
    setting = dict(mask_coef=7.0, mask_thresh=0.5, step_size=0.08)
    result = iteration_curves(lambda s: iter([partials, partials_b]), [setting], [0.3, 0.5], 4, 3,
                              noise_threshold=0.5)
    grown = 63 - 63 // 3  # object pixels outside the core
    np.testing.assert_array_equal(result['added'][0], [0, grown, grown + grown + 16])
    np.testing.assert_array_equal(result['noise_pixels'][0], [0, 0, 16])
    assert np.isnan(result['noise'][0, 0]) and result['noise'][0, 1] == 0
    assert result['noise'][0, 2] == pytest.approx(16 / (2 * grown + 16))  # pixel-weighted over the images
    assert result['noise_threshold'] == 0.5 and result['num_images'] == 2
    # the mIoU of t: the best over the thresholds of the mIoU of both images' seeds, summed (a plain version)
    for t in range(3):
        mious = []
        for threshold in (0.3, 0.5):
            total = sum(confusion_matrix(seeds_from_maps(m[t], k, threshold), g, 4)
                        for m, k, g in ((maps, [1], gt), (maps_b, [0], gt_b)))
            with np.errstate(invalid='ignore'):
                mious.append(np.nanmean(np.diag(total) / (total.sum(0) + total.sum(1) - np.diag(total))))
        assert result['miou'][0, t] == pytest.approx(max(mious), abs=1e-12)
        assert result['best_threshold'][0, t] == (0.3, 0.5)[int(np.argmax(mious))]
    assert result['miou'][0, 1] > result['miou'][0, 0]
    table = format_analysis_table(result)
    assert 'mIoU t=3' in table and table.splitlines()[-1].split()[:3] == ['7', '0.5', '0.08']
    with pytest.raises(ValueError, match='noise threshold 0.4 is not one of the thresholds'):
        iteration_curves(lambda s: iter([partials]), [setting], [0.3, 0.5], 4, 3, noise_threshold=0.4)


def test_image_errors_are_named():
    gt = np.zeros((4, 4), np.uint8)
    with pytest.raises(ValueError, match=r'gt.png: maps of shape \(3, 1, 5, 4\) do not match'):
        image_partials(np.zeros((3, 1, 5, 4)), [0], gt, [0.5], 3, 'gt.png')
    with pytest.raises(ValueError, match='gt.png: label 9 outside the 3 classes'):
        image_partials(np.zeros((3, 1, 4, 4)), [0], gt + 9, [0.5], 3, 'gt.png')
