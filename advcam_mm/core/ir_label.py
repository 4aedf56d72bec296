"""Inter-pixel relation labels: confident foreground, confident background, the rest unsure.

IRN (Ahn et al., CVPR 2019, ``step/cam_to_ir_label.py``) trains IRNet on labels
mined from the class maps with two background scores and IRN's dense CRF:

* confident foreground: pixels still labelled foreground when the background
  score is as *high* as ``conf_fg_thres`` (CRF-refined);
* confident background: pixels labelled background even when the background
  score is as *low* as ``conf_bg_thres`` (CRF-refined);
* everything else is unsure (``ignore_index`` 255) and gives no pair label.

AdvCAM's ``run_sample.py`` uses 0.35 / 0.15 (its maps are denser than CAMs),
IRN's own 0.30 / 0.05.
"""
import numpy as np

from .labels import IGNORE_INDEX
from .seeds import seed_with_crf

# AdvCAM's run_sample.py defaults.
CONF_FG_THRES = 0.35
CONF_BG_THRES = 0.15
# IRN's run_sample.py defaults (for CAMs).
IRN_CONF_FG_THRES = 0.30
IRN_CONF_BG_THRES = 0.05


def combine_confident_regions(fg_conf, bg_conf, ignore_index=IGNORE_INDEX):
    """IR label from the seeds at the two thresholds (dataset class ids, 0 = background).

    Foreground where ``fg_conf`` says so; background where both say background;
    ``ignore_index`` where only the low threshold's seed says foreground.
    """
    fg_conf = np.asarray(fg_conf)
    bg_conf = np.asarray(bg_conf)
    if fg_conf.shape != bg_conf.shape:
        raise ValueError(f'seed maps differ in shape: {fg_conf.shape} and {bg_conf.shape}')
    label = fg_conf.astype(np.uint8)
    label[(fg_conf == 0) & (bg_conf != 0)] = ignore_index
    return label


def inter_pixel_relation_label(image, high_res, keys, conf_fg_thres=CONF_FG_THRES,
                               conf_bg_thres=CONF_BG_THRES, ignore_index=IGNORE_INDEX, crf=None):
    """IR label ``(H, W)`` uint8 of one image (IRN's ``cam_to_ir_label``).

    Args:
        image: uint8 ``(H, W, 3)`` RGB image (drives the CRF's bilateral kernel).
        high_res: ``(C, H, W)`` max-normalised class maps of the present classes.
        keys: ``(C,)`` 0-based foreground class ids of those maps.
        conf_fg_thres: background score for the confident-foreground seed.
        conf_bg_thres: background score for the confident-background seed.
        crf: settings of :func:`advcam_mm.core.seeds.seed_with_crf` (``t``, ``gt_prob``,
            kernel parameters); default IRN's.

    Returns:
        0 = confident background, ``keys + 1`` = confident class,
        ``ignore_index`` = unsure.
    """
    if not conf_bg_thres <= conf_fg_thres:
        raise ValueError(f'conf_bg_thres ({conf_bg_thres}) must not exceed conf_fg_thres ({conf_fg_thres})')
    fg_conf = seed_with_crf(image, high_res, keys, conf_fg_thres, **(crf or {}))
    bg_conf = seed_with_crf(image, high_res, keys, conf_bg_thres, **(crf or {}))
    return combine_confident_regions(fg_conf, bg_conf, ignore_index)
