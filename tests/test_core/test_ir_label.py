"""Inter-pixel relation labels: IRN's confident-region rule on hand-made maps."""
import numpy as np
import pytest

from advcam_mm.core.ir_label import combine_confident_regions, inter_pixel_relation_label

BAND = 16
# One class (0-based key 2 -> dataset id 3) whose map is 0.9 / 0.25 / 0.1 on three bands: above 0.35 ->
# confident foreground, between 0.15 and 0.35 -> unsure, below 0.15 -> background.
MAP_LEVELS = (0.9, 0.25, 0.1)
EXPECTED_BANDS = (3, 255, 0)
COLOURS = ((220, 40, 40), (40, 200, 60), (40, 60, 220))


def hand_made(height=24, band=BAND):
    """(image, maps (1, H, 3 * band), expected label) of three vertical bands."""
    maps = np.concatenate([np.full((1, height, band), v, np.float32) for v in MAP_LEVELS], axis=2)
    image = np.concatenate([np.full((height, band, 3), c, np.uint8) for c in COLOURS], axis=1)
    label = np.concatenate([np.full((height, band), v, np.uint8) for v in EXPECTED_BANDS], axis=1)
    return image, maps, label


def test_combine_confident_regions_rule():
    fg_conf = np.array([[3, 3, 0, 0, 0]])
    bg_conf = np.array([[3, 3, 3, 7, 0]])
    np.testing.assert_array_equal(combine_confident_regions(fg_conf, bg_conf), [[3, 3, 255, 255, 0]])
    # large class ids do not wrap around (IRN's `bg_conf + fg_conf == 0` on int64)
    np.testing.assert_array_equal(combine_confident_regions(np.array([[0]]), np.array([[128]])), [[255]])


def test_ir_label_of_hand_made_maps_and_thresholds():
    image, maps, label = hand_made()
    np.testing.assert_array_equal(inter_pixel_relation_label(image, maps, [2]), label)
    # IRN's thresholds (0.30 / 0.05): the 0.25 and the 0.1 band are unsure
    irn = inter_pixel_relation_label(image, maps, [2], conf_fg_thres=0.30, conf_bg_thres=0.05)
    np.testing.assert_array_equal(irn[:, :BAND], 3)
    assert np.all(irn[:, BAND:] == 255)
    # no class: everything is confident background
    empty = inter_pixel_relation_label(image, maps[:0], np.zeros(0, np.int64))
    np.testing.assert_array_equal(empty, 0)
    with pytest.raises(ValueError, match='must not exceed'):
        inter_pixel_relation_label(image, maps, [2], conf_fg_thres=0.1, conf_bg_thres=0.3)
