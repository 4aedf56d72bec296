"""The class-map file of one image (``<out_dir>/<image_id>.npy``), IRN's format.

A pickled dict, as IRN's ``make_cam`` and AdvCAM's ``obtain_CAM_masking`` write:

* ``keys``: int64 array ``(C,)``, the present foreground classes, 0-based
  (class index in the dataset's foreground list, i.e. without background);
* ``cam``: float16/32 array ``(C, ceil(H/4), ceil(W/4))``, stride-4 maps, each
  class map max-normalised (used by IRN's random walk);
* ``high_res``: float16/32 array ``(C, H, W)``, full-size maps, max-normalised
  (used for seeds and IR labels).

Only the present classes are stored, so a file's size grows with them, not
with the dataset's class count. For datasets where the full-size maps do not
fit (MS COCO train2014: about 155 GB in float16, see the README), ``storage``
chooses a smaller form, each read back by :func:`load_cam_file` as float32
maps of the same shapes (old files read as before):

* ``'float16'`` (default) / ``'float32'``: as above;
* ``'uint8'``: both maps clipped to [0, 1] and quantised to ``round(255 v)``
  (``quantised: 255`` in the dict); read back with an error of at most
  1/510; half the size of float16;
* ``'strided'``: no ``high_res``; ``image_size`` ``(H, W)`` instead. On read,
  ``high_res`` is rebuilt from ``cam``: bilinear x4 upsampling
  (``align_corners=False``, the interpolation that made both maps), cropped
  to ``(H, W)`` and max-normalised again. About 1/17 of float16's size; the
  rebuilt map is not the one computed from the network outputs (the README
  gives the measured difference).

Seeds: label = ``argmax([bg_threshold, high_res...])``, mapped through
``[0, keys + 1]``. Files are written atomically, so a present file is complete.
"""
import os

import numpy as np

from .atomic import atomic_save_npy

REQUIRED_KEYS = ('keys', 'cam', 'high_res')
STORAGES = ('float16', 'float32', 'uint8', 'strided')
FEATURE_STRIDE = 4  # of ``cam`` with respect to the image
QUANTISATION_LEVELS = 255


def cam_file_path(out_dir, image_id):
    return os.path.join(out_dir, f'{image_id}.npy')


def _to_numpy(x):
    return x.detach().cpu().numpy() if hasattr(x, 'detach') else np.asarray(x)


def _quantise(maps):
    return np.round(np.clip(_to_numpy(maps).astype(np.float32), 0, 1) * QUANTISATION_LEVELS).astype(np.uint8)


def save_cam_file(path, keys, strided, high_res, storage='float16'):
    """Write one image's maps atomically (``strided``/``high_res`` as tensors or arrays) in ``storage`` form."""
    keys = _to_numpy(keys).astype(np.int64)
    high_res = _to_numpy(high_res)
    if storage in ('float16', 'float32'):
        content = {'cam': _to_numpy(strided).astype(storage), 'high_res': high_res.astype(storage)}
    elif storage == 'uint8':
        content = {'cam': _quantise(strided), 'high_res': _quantise(high_res), 'quantised': QUANTISATION_LEVELS}
    elif storage == 'strided':
        content = {'cam': _to_numpy(strided).astype(np.float16),
                   'image_size': np.asarray(high_res.shape[-2:], dtype=np.int64)}
    else:
        raise ValueError(f'{path}: unknown class-map storage {storage!r}; choose one of {STORAGES}')
    atomic_save_npy(path, {'keys': keys, **content})


def upsample_strided(strided, image_size):
    """``high_res`` rebuilt from stride-4 maps: bilinear x4, cropped to ``image_size``, max-normalised."""
    import torch
    import torch.nn.functional as F
    height, width = (int(s) for s in image_size)
    maps = torch.from_numpy(np.asarray(strided, dtype=np.float32))
    if maps.shape[0] == 0:
        return np.zeros((0, height, width), np.float32)
    size = (maps.shape[1] * FEATURE_STRIDE, maps.shape[2] * FEATURE_STRIDE)
    up = F.interpolate(maps[:, None], size, mode='bilinear', align_corners=False)[:, 0, :height, :width]
    return (up / (up.amax((1, 2), keepdim=True) + 1e-5)).numpy()


def load_cam_file(path):
    """Read one image's maps as float32 (any ``storage``); a clear error names a missing or broken file."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: class-map file not found (run tools/make_cams.py first)')
    try:
        content = np.load(path, allow_pickle=True).item()
    except Exception as error:  # noqa: BLE001 - re-raised with the file named
        raise ValueError(f'{path}: not a readable class-map file ({error})') from error
    if not isinstance(content, dict) or 'keys' not in content or 'cam' not in content \
            or 'high_res' not in content and 'image_size' not in content:
        raise ValueError(f'{path}: class-map file must be a dict with keys {REQUIRED_KEYS} '
                         f'(or keys, cam, image_size)')
    keys = np.asarray(content['keys'], dtype=np.int64)
    levels = float(content.get('quantised', 1))
    strided = np.asarray(content['cam'], dtype=np.float32) / levels
    if 'high_res' in content:
        high_res = np.asarray(content['high_res'], dtype=np.float32) / levels
    else:
        high_res = upsample_strided(strided, content['image_size'])
    if strided.shape[0] != len(keys) or high_res.shape[0] != len(keys):
        raise ValueError(f'{path}: {len(keys)} keys but maps of shape {strided.shape} / {high_res.shape}')
    return {'keys': keys, 'cam': strided, 'high_res': high_res}
