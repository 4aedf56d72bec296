"""Atomic file writes: write to a temporary file in the same folder, then rename.

A process killed mid-write leaves at most a ``*.tmp*`` file behind, never a
truncated result, so a rerun that skips existing outputs resumes safely.
"""
import contextlib
import io
import os
import tempfile

import numpy as np
from PIL import Image


def _current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path, mode='wb'):
    """Yield a file object whose content replaces ``path`` only on success."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(dir=folder, prefix=os.path.basename(path) + '.', suffix='.tmp')
    os.chmod(tmp_path, 0o666 & ~_current_umask())  # mkstemp makes 0600; outputs get the usual mode
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp_path)
        raise


def atomic_save_npy(path, array_or_object):
    """``np.save`` atomically (objects such as dicts are pickled, as IRN's files are)."""
    buffer = io.BytesIO()
    np.save(buffer, array_or_object, allow_pickle=True)
    with atomic_write(path) as f:
        f.write(buffer.getvalue())


def atomic_save_png(path, label_map, palette=None):
    """Save a uint8 label map as PNG atomically; with ``palette`` as a 'P'-mode image."""
    image = Image.fromarray(np.asarray(label_map, dtype=np.uint8))
    if palette is not None:
        image = image.convert('P')
        image.putpalette(list(np.asarray(palette, dtype=np.uint8).reshape(-1)))
    buffer = io.BytesIO()
    image.save(buffer, format='PNG')
    with atomic_write(path) as f:
        f.write(buffer.getvalue())
