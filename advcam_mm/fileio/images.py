"""The one image reader of the stages: an RGB uint8 array, decoded as the training pipeline decodes it.

mmcv's ``imread`` (OpenCV's decoder) is what ``LoadImageFromFile`` /
``LoadImageWithCheck`` use when the networks are trained, so class maps, CRF
seeds, IR labels and pseudo masks see the same pixels as training did (PIL and
OpenCV may decode a JPEG slightly differently).
"""
import os

import numpy as np


def read_rgb(path: str) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB image of ``path``; a missing or corrupt file is named in the error."""
    import mmcv
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: image not found')
    try:
        image = mmcv.imread(path, channel_order='rgb')
    except Exception:  # noqa: BLE001 - OpenCV fails in cvtColor on an undecodable file
        image = None
    if image is None:
        raise ValueError(f'{path}: unreadable or corrupt image')
    return image
