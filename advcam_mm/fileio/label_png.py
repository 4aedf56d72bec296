"""Label-map PNG folders (``<dir>/<image_id>.png``): IR labels and pseudo masks.

One palette-mode PNG per image whose pixel values are dataset class ids
(0 = background, 255 = ignore), VOC's ``SegmentationClass`` convention, so the
same folder is read by mmseg's ``LoadAnnotations`` and shows in colour in an
image viewer (IRN writes a second ``_palette.png`` copy for that; one file here).
Files are written atomically; :func:`remove_stale_temp_files` clears the
temporary files a killed writer left behind.
"""
import os

import numpy as np
from PIL import Image

from .atomic import atomic_save_png

SUFFIX = '.png'


def voc_png_palette():
    """VOC's 256-colour palette (255 gets VOC's void colour)."""
    from advcam_mm.datasets.voc_base import voc_palette
    return voc_palette(256)


def label_png_path(folder, image_id):
    return os.path.join(folder, f'{image_id}{SUFFIX}')


def save_label_png(path, label_map, palette=None):
    """Write a uint8 ``(H, W)`` label map atomically as a palette PNG (VOC palette by default)."""
    label_map = np.asarray(label_map)
    if label_map.ndim != 2:
        raise ValueError(f'{path}: a label map must be (H, W), got shape {label_map.shape}')
    if label_map.size and (label_map.min() < 0 or label_map.max() > 255):
        raise ValueError(f'{path}: label values must lie in [0, 255], got range '
                         f'[{label_map.min()}, {label_map.max()}]')
    atomic_save_png(path, label_map.astype(np.uint8), voc_png_palette() if palette is None else palette)


def load_label_png(path, what='label map'):
    """Read a single-channel label PNG as uint8 ``(H, W)``; errors name the file."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: {what} not found')
    try:
        with Image.open(path) as image:
            label = np.asarray(image)
    except Exception as error:  # noqa: BLE001 - PIL raises several types; re-raised with the file named
        raise ValueError(f'{path}: unreadable {what} ({error})') from error
    if label.ndim != 2:
        raise ValueError(f'{path}: {what} must be a single-channel class-index PNG, got shape {label.shape}')
    return label


def remove_stale_temp_files(folder, paths):
    """Delete the temporary files that an interrupted atomic write of one of ``paths`` left in ``folder``.

    :func:`advcam_mm.fileio.atomic.atomic_write` names them ``<name>.<random>.tmp``;
    only those of the given outputs are touched (safe while other processes
    write *other* files into the same folder). Returns the number removed.
    """
    if not os.path.isdir(folder):
        return 0
    names = {os.path.basename(p) for p in paths}
    removed = 0
    for entry in os.listdir(folder):
        if entry.endswith('.tmp') and entry.count('.') >= 2:
            owner = entry[:-len('.tmp')].rsplit('.', 1)[0]
            if owner in names:
                try:
                    os.remove(os.path.join(folder, entry))
                    removed += 1
                except FileNotFoundError:
                    pass
    return removed
