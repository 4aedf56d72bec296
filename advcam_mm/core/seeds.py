"""Seeds: per-pixel labels from class maps and a background threshold.

IRN / AdvCAM (``step/eval_cam.py``): prepend a constant background map equal to
the threshold, take the argmax over ``[bg_threshold, maps of present classes]``
and look the index up in ``[0, keys + 1]`` (dataset class ids, 0 = background).
Ties go to the first index, so a pixel is foreground only where its largest map
value is strictly above the threshold.
"""
import numpy as np

from .crf import crf_inference_label


def _check_maps(high_res, keys):
    high_res = np.asarray(high_res)
    keys = np.asarray(keys, dtype=np.int64).reshape(-1)
    if high_res.ndim != 3 or high_res.shape[0] != len(keys):
        raise ValueError(f'class maps must be (C, H, W) with C = len(keys) = {len(keys)}, '
                         f'got shape {high_res.shape}')
    if len(keys) and (keys.min() < 0 or keys.max() > 253):
        raise ValueError(f'keys must be 0-based foreground class ids in [0, 253], got {keys}')
    return high_res, keys


def seed_index_map(high_res, bg_threshold):
    """Index into ``[background, maps...]`` of the argmax, ``(H, W)`` int64.

    The threshold is compared in the maps' dtype, as the reference's ``np.pad``
    with ``constant_values`` does.
    """
    high_res = np.asarray(high_res)
    if high_res.shape[0] == 0:
        return np.zeros(high_res.shape[1:], dtype=np.int64)
    background = np.full((1,) + high_res.shape[1:], bg_threshold, dtype=high_res.dtype)
    return np.argmax(np.concatenate([background, high_res], axis=0), axis=0)


def seeds_from_maps(high_res, keys, bg_threshold):
    """Seed label map ``(H, W)`` uint8 in dataset class ids (0 = background, ``keys + 1``).

    Args:
        high_res: ``(C, H, W)`` max-normalised class maps of the present classes.
        keys: ``(C,)`` 0-based foreground class ids of those maps.
        bg_threshold: the constant background score.
    """
    high_res, keys = _check_maps(high_res, keys)
    lookup = np.concatenate([[0], keys + 1]).astype(np.uint8)
    return lookup[seed_index_map(high_res, bg_threshold)]


def max_foreground(high_res, keys):
    """Per-pixel largest map value and its class id (``keys + 1``), computed once.

    The seed at any threshold ``thr`` is then ``where(score > thr, label, 0)``
    (equal to :func:`seeds_from_maps` when ``thr`` is in the maps' dtype), which
    lets a threshold sweep skip the argmax per threshold. Without classes the
    score is ``-inf`` (always background).
    """
    high_res, keys = _check_maps(high_res, keys)
    if len(keys) == 0:
        return (np.full(high_res.shape[1:], -np.inf, dtype=np.float32),
                np.zeros(high_res.shape[1:], dtype=np.uint8))
    index = np.argmax(high_res, axis=0)
    score = np.take_along_axis(high_res, index[None], axis=0)[0]
    return score, (keys + 1).astype(np.uint8)[index]


def seed_with_crf(image, high_res, keys, bg_threshold, t=10, gt_prob=0.7, **pairwise):
    """Seeds refined by IRN's dense CRF (the paper's "+CRF" seeds).

    The CRF runs on the seed's index map over ``len(keys) + 1`` labels
    (background and the present classes), then indices map back through
    ``[0, keys + 1]``, as ``step/cam_to_ir_label.py`` does.

    Args:
        image: uint8 ``(H, W, 3)`` RGB image.
        high_res, keys, bg_threshold: as :func:`seeds_from_maps`.
        t, gt_prob: CRF iterations and unary confidence (IRN's defaults).
        **pairwise: overrides of IRN's kernel parameters (:data:`advcam_mm.core.crf.IRN_PAIRWISE`).
    """
    high_res, keys = _check_maps(high_res, keys)
    lookup = np.concatenate([[0], keys + 1]).astype(np.uint8)
    index = seed_index_map(high_res, bg_threshold)
    refined = crf_inference_label(image, index, n_labels=len(lookup), t=t, gt_prob=gt_prob, **pairwise)
    return lookup[refined]
