"""Pseudo-mask mIoU on a hand-made case, and the errors that name the files."""
import math

import numpy as np
import pytest

from advcam_mm.evaluation.iou_table import iou_table, percent, without_nan
from advcam_mm.evaluation.mask_metric import mask_confusion, mask_result

# image a: cat in columns 0-1, the mask spills into column 2; one ignored ground-truth pixel
GT_A = np.array([[1, 1, 0, 0]] * 3 + [[1, 1, 0, 255]])
MASK_A = np.array([[1, 1, 1, 0]] * 4)
# image b: dog in rows 0-1, the mask finds row 0 only
GT_B = np.array([[2] * 4, [2] * 4, [0] * 4, [0] * 4])
MASK_B = np.array([[2] * 4, [0] * 4, [0] * 4, [0] * 4])
# By hand (the ignored pixel left out): background TP 3 + 8, FP 4 (b's row 1), FN 4 (a's column 2)
#   -> 11 / 19; cat TP 8, FP 4 -> 8 / 12; dog TP 4, FN 4 -> 4 / 8.
IOU = [11 / 19, 8 / 12, 4 / 8]


def test_known_answer_summed_over_images():
    total = mask_confusion(MASK_A, GT_A, 4) + mask_confusion(MASK_B, GT_B, 4)
    assert total.sum() == 31  # 32 pixels, one ignored
    result = mask_result(total, ['background', 'cat', 'dog', 'bird'])
    np.testing.assert_allclose(result['iou'][:3], IOU)
    assert math.isnan(result['iou'][3])  # absent from ground truth and masks: left out of the mean
    assert result['miou'] == pytest.approx(np.mean(IOU))
    assert result['class_names'] == ['background', 'cat', 'dog', 'bird']


def test_errors_name_the_files():
    with pytest.raises(ValueError, match=r'b.png: mask of size \(2, 2\) but ground truth gt/b.png is \(4, 4\)'):
        mask_confusion(np.zeros((2, 2), int), GT_A, 3, 'b.png', 'gt/b.png')
    with pytest.raises(ValueError, match='a.png: mask value 255 outside the 3 classes'):
        mask_confusion(np.where(MASK_A == 1, 255, 0), GT_A, 3, 'a.png', 'gt/a.png')
    with pytest.raises(ValueError, match='gt/a.png: ground-truth labels must lie in'):
        mask_confusion(MASK_A, np.where(GT_A == 1, 7, GT_A), 3, 'a.png', 'gt/a.png')


def test_iou_table_and_strict_json():
    table = iou_table(['background', 'cat', 'dog'], {'Seed': [0.5, float('nan'), 1.0], '+CRF': [0.25, 0.5, 1.0]},
                      {'Seed': 0.75, '+CRF': 0.5833})
    lines = table.splitlines()
    assert lines[0].split() == ['class', 'Seed', '+CRF']
    assert lines[2].split() == ['background', '50.00', '25.00']
    assert lines[3].split() == ['cat', '-', '50.00']  # NaN: the class is in neither ground truth nor seeds
    assert lines[-1].split() == ['mIoU', '75.00', '58.33']
    assert percent(None) == percent(float('nan')) == '     -'
    assert without_nan({'a': [1.0, float('nan')], 'b': (float('nan'),), 'c': 'x'}) == {'a': [1.0, None],
                                                                                      'b': [None], 'c': 'x'}
