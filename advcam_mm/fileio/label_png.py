"""Label-map PNG folders (``<dir>/<image_id>.png``): ground truth, IR labels, pseudo masks.

One palette-mode PNG per image whose pixel values are dataset class ids
(0 = background, 255 = ignore; :mod:`advcam_mm.core.labels`), VOC's
``SegmentationClass`` convention, so the same folder is read by mmseg's
``LoadAnnotations`` and shows in colour in an image viewer (IRN writes a second
``_palette.png`` copy for that; one file here). :func:`load_label_png` is the
one reader of such files in the project (ground truth and generated labels
alike). Files are written atomically; :func:`remove_stale_temp_files` clears
the temporary files a killed writer left behind.
"""
import os

import numpy as np
from PIL import Image

from ..core.labels import IGNORE_INDEX
from .atomic import atomic_save_png

SUFFIX = '.png'


def voc_palette(num_colours=256):
    """VOC's bit-interleaved colour map, ``num_colours`` RGB triples (as VOC's devkit builds it).

    Entry 255 is VOC's void colour; the first entries colour background and classes.
    """
    palette = []
    for index in range(num_colours):
        r = g = b = 0
        c = index
        for shift in range(7, -1, -1):
            r |= (c & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        palette.append([r, g, b])
    return palette


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
    atomic_save_png(path, label_map.astype(np.uint8), voc_palette() if palette is None else palette)


def load_label_png(path, what='label map', num_classes=None, ignore_index=IGNORE_INDEX):
    """Read a single-channel label PNG as uint8 ``(H, W)``; errors name the file.

    With ``num_classes`` the values are checked: ``0 .. num_classes - 1`` and
    ``ignore_index`` only (a colour-coded or foreign mask is refused).
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: {what} not found')
    try:
        with Image.open(path) as image:
            label = np.asarray(image)
    except Exception as error:  # noqa: BLE001 - PIL raises several types; re-raised with the file named
        raise ValueError(f'{path}: unreadable {what} ({error})') from error
    if num_classes is None:
        if label.ndim != 2:
            raise ValueError(f'{path}: {what} must be a single-channel class-index PNG (palette or '
                             f'grayscale), got shape {label.shape}')
    else:
        validate_label_map(label, num_classes, path, what, ignore_index)
    return label


def validate_label_map(label, num_classes, path, what='mask', ignore_index=IGNORE_INDEX):
    """Raise ``ValueError`` naming ``path`` unless ``label`` is a 2-D class-index map; return its values.

    Valid values are ``0 .. num_classes - 1`` (0 = background) and
    ``ignore_index`` (VOC's 255 'void' border), the convention of VOC's
    ``SegmentationClass``/``SegmentationClassAug`` PNGs.
    """
    label = np.asarray(label)
    if label.ndim != 2:
        raise ValueError(f'{what} {path} has shape {label.shape}: expected a single-channel (H, W) PNG of '
                         f'class indices (palette or grayscale), not a colour-coded image')
    values = np.unique(label)
    bad = values[((values < 0) | (values >= num_classes)) & (values != ignore_index)]
    if bad.size:
        raise ValueError(f'{what} {path} has values {bad.tolist()[:10]} outside the class indices '
                         f'0..{num_classes - 1} and the ignore index {ignore_index} ({num_classes} classes)')
    return values


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
