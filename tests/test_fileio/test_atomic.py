"""Atomic writes: a failed write leaves the previous file and no temporary file; outputs get the usual mode."""
import os
import stat

import pytest

from advcam_mm.fileio.atomic import atomic_write


def test_failed_write_keeps_the_old_content(tmp_path):
    path = tmp_path / 'result.json'
    path.write_text('old')
    with pytest.raises(RuntimeError, match='killed'):
        with atomic_write(str(path), 'w') as f:
            f.write('half of the new')
            raise RuntimeError('killed')
    assert path.read_text() == 'old' and os.listdir(tmp_path) == ['result.json']
    with atomic_write(str(path), 'w') as f:
        f.write('new')
    assert path.read_text() == 'new' and os.listdir(tmp_path) == ['result.json']


def test_new_file_in_a_new_folder_gets_the_umask_mode(tmp_path):
    mask = os.umask(0o022)
    try:
        with atomic_write(str(tmp_path / 'a' / 'b' / 'c.bin')) as f:
            f.write(b'\x00')
    finally:
        os.umask(mask)
    assert stat.S_IMODE(os.stat(tmp_path / 'a' / 'b' / 'c.bin').st_mode) == 0o644  # not mkstemp's 0600
