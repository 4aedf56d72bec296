"""The class-map file (IRN's format): written atomically, read back as float32, bad files named."""
import os

import numpy as np
import pytest

from advcam_mm.fileio.cam_files import cam_file_path, load_cam_file, save_cam_file


def test_round_trip_in_float16(tmp_path):
    rng = np.random.default_rng(0)
    strided, high_res = rng.random((2, 3, 4)), rng.random((2, 10, 13))
    path = cam_file_path(str(tmp_path), 'img_01')
    assert path == str(tmp_path / 'img_01.npy')
    save_cam_file(path, np.array([3, 7], np.int32), strided, high_res)
    assert os.listdir(tmp_path) == ['img_01.npy']  # the temporary file was renamed into place
    maps = load_cam_file(path)
    assert maps['keys'].dtype == np.int64 and maps['keys'].tolist() == [3, 7]
    assert maps['cam'].dtype == maps['high_res'].dtype == np.float32
    np.testing.assert_array_equal(maps['high_res'], high_res.astype(np.float16).astype(np.float32))
    np.testing.assert_array_equal(maps['cam'], strided.astype(np.float16).astype(np.float32))
    # IRN's own files are plain pickled dicts: the same reader takes them
    np.save(str(tmp_path / 'irn.npy'), {'keys': np.array([1]), 'cam': np.ones((1, 2, 2)),
                                        'high_res': np.ones((1, 8, 8))})
    assert load_cam_file(str(tmp_path / 'irn.npy'))['high_res'].shape == (1, 8, 8)


def test_bad_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='a.npy: class-map file not found .run tools/make_cams.py'):
        load_cam_file(str(tmp_path / 'a.npy'))
    (tmp_path / 'b.npy').write_bytes(b'not numpy')
    with pytest.raises(ValueError, match='b.npy: not a readable class-map file'):
        load_cam_file(str(tmp_path / 'b.npy'))
    np.save(str(tmp_path / 'c.npy'), {'keys': np.array([1])})
    with pytest.raises(ValueError, match=r"c.npy: class-map file must be a dict with keys \('keys', 'cam', "):
        load_cam_file(str(tmp_path / 'c.npy'))
    save_cam_file(str(tmp_path / 'd.npy'), np.array([1, 2]), np.ones((1, 2, 2)), np.ones((1, 8, 8)))
    with pytest.raises(ValueError, match='d.npy: 2 keys but maps of shape'):
        load_cam_file(str(tmp_path / 'd.npy'))
