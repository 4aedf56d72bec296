"""The class-map file of one image (``<out_dir>/<image_id>.npy``), IRN's format.

A pickled dict, as IRN's ``make_cam`` and AdvCAM's ``obtain_CAM_masking`` write:

* ``keys``: int64 array ``(C,)``, the present foreground classes, 0-based
  (class index in the dataset's foreground list, i.e. without background);
* ``cam``: float16/32 array ``(C, ceil(H/4), ceil(W/4))``, stride-4 maps, each
  class map max-normalised (used by IRN's random walk);
* ``high_res``: float16/32 array ``(C, H, W)``, full-size maps, max-normalised
  (used for seeds and IR labels).

Seeds: label = ``argmax([bg_threshold, high_res...])``, mapped through
``[0, keys + 1]``. Files are written atomically, so a present file is complete.
"""
import os

import numpy as np

from .atomic import atomic_save_npy

REQUIRED_KEYS = ('keys', 'cam', 'high_res')


def cam_file_path(out_dir, image_id):
    return os.path.join(out_dir, f'{image_id}.npy')


def save_cam_file(path, keys, strided, high_res, dtype=np.float16):
    """Write one image's maps atomically (``strided``/``high_res`` as tensors or arrays)."""
    def to_numpy(x):
        return x.detach().cpu().numpy() if hasattr(x, 'detach') else np.asarray(x)

    atomic_save_npy(path, {
        'keys': to_numpy(keys).astype(np.int64),
        'cam': to_numpy(strided).astype(dtype),
        'high_res': to_numpy(high_res).astype(dtype),
    })


def load_cam_file(path):
    """Read one image's maps as float32; a clear error names a missing or broken file."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: class-map file not found (run tools/make_cams.py first)')
    try:
        content = np.load(path, allow_pickle=True).item()
    except Exception as error:  # noqa: BLE001 - re-raised with the file named
        raise ValueError(f'{path}: not a readable class-map file ({error})') from error
    if not isinstance(content, dict) or any(k not in content for k in REQUIRED_KEYS):
        raise ValueError(f'{path}: class-map file must be a dict with keys {REQUIRED_KEYS}')
    keys = np.asarray(content['keys'], dtype=np.int64)
    strided = np.asarray(content['cam'], dtype=np.float32)
    high_res = np.asarray(content['high_res'], dtype=np.float32)
    if strided.shape[0] != len(keys) or high_res.shape[0] != len(keys):
        raise ValueError(f'{path}: {len(keys)} keys but maps of shape {strided.shape} / {high_res.shape}')
    return {'keys': keys, 'cam': strided, 'high_res': high_res}
