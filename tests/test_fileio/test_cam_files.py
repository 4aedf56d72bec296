"""Class-map files: IRN's dict by default, and the smaller storages (uint8, strided) read back as float32."""
import os

import numpy as np
import pytest

from advcam_mm.fileio.cam_files import load_cam_file, save_cam_file


def _maps(rng, classes=3, height=21, width=30):
    strided = rng.random((classes, (height + 3) // 4, (width + 3) // 4)).astype(np.float32)
    high_res = rng.random((classes, height, width)).astype(np.float32)
    return np.arange(classes) * 7, strided, high_res


def test_default_is_irns_float16_dict(tmp_path):
    keys, strided, high_res = _maps(np.random.default_rng(0))
    save_cam_file(tmp_path / 'a.npy', keys, strided, high_res)
    content = np.load(tmp_path / 'a.npy', allow_pickle=True).item()
    assert sorted(content) == ['cam', 'high_res', 'keys']
    assert content['cam'].dtype == content['high_res'].dtype == np.float16 and content['keys'].dtype == np.int64
    loaded = load_cam_file(str(tmp_path / 'a.npy'))
    np.testing.assert_allclose(loaded['high_res'], high_res, atol=5e-4)
    # a file written by IRN itself (float32, np.save of a dict) reads unchanged
    np.save(tmp_path / 'irn.npy', {'keys': keys, 'cam': strided, 'high_res': high_res})
    np.testing.assert_array_equal(load_cam_file(str(tmp_path / 'irn.npy'))['high_res'], high_res)


def test_uint8_is_within_half_a_level_and_half_the_size(tmp_path):
    keys, strided, high_res = _maps(np.random.default_rng(1), height=64, width=80)
    high_res[0, 0, :3] = [-0.2, 1.3, 0.5]  # outside [0, 1]: clipped
    save_cam_file(tmp_path / 'q.npy', keys, strided, high_res, storage='uint8')
    save_cam_file(tmp_path / 'f.npy', keys, strided, high_res)
    loaded = load_cam_file(str(tmp_path / 'q.npy'))
    assert loaded['high_res'].dtype == np.float32
    assert np.abs(loaded['high_res'] - np.clip(high_res, 0, 1)).max() <= 1 / 510 + 1e-7
    assert np.abs(loaded['cam'] - strided).max() <= 1 / 510 + 1e-7
    np.testing.assert_allclose(loaded['high_res'][0, 0, :3], [0, 1, 128 / 255], rtol=1e-6)
    assert os.path.getsize(tmp_path / 'q.npy') < 0.55 * os.path.getsize(tmp_path / 'f.npy')


def _bilinear_x4(values, size):
    """Straightforward half-pixel bilinear upsampling by 4 of a 2-D map (PyTorch's align_corners=False)."""
    def weights(n_in, n_out):
        matrix = np.zeros((n_out, n_in))
        for i in range(n_out):
            x = max((i + 0.5) / 4 - 0.5, 0.0)
            x0 = min(int(np.floor(x)), n_in - 1)
            x1 = min(x0 + 1, n_in - 1)
            matrix[i, x0] += 1 - (x - x0)
            matrix[i, x1] += x - x0
        return matrix
    up = weights(values.shape[0], 4 * values.shape[0]) @ values @ weights(values.shape[1], 4 * values.shape[1]).T
    return up[:size[0], :size[1]]


def test_strided_rebuilds_high_res_by_bilinear_upsampling(tmp_path):
    keys, strided, high_res = _maps(np.random.default_rng(2))
    save_cam_file(tmp_path / 's.npy', keys, strided, high_res, storage='strided')
    content = np.load(tmp_path / 's.npy', allow_pickle=True).item()
    assert 'high_res' not in content and content['image_size'].tolist() == [21, 30]
    loaded = load_cam_file(str(tmp_path / 's.npy'))
    assert loaded['high_res'].shape == high_res.shape
    for c in range(3):
        expected = _bilinear_x4(strided[c].astype(np.float16).astype(np.float64), (21, 30))
        np.testing.assert_allclose(loaded['high_res'][c], expected / (expected.max() + 1e-5), atol=1e-5)
    save_cam_file(tmp_path / 'none.npy', np.zeros(0), np.zeros((0, 6, 8)), np.zeros((0, 21, 30)), storage='strided')
    assert load_cam_file(str(tmp_path / 'none.npy'))['high_res'].shape == (0, 21, 30)


def test_bad_storage_and_broken_files_are_named(tmp_path):
    keys, strided, high_res = _maps(np.random.default_rng(3))
    with pytest.raises(ValueError, match=r"b\.npy: unknown class-map storage 'int4'"):
        save_cam_file(tmp_path / 'b.npy', keys, strided, high_res, storage='int4')
    np.save(tmp_path / 'c.npy', {'keys': keys, 'cam': strided})
    with pytest.raises(ValueError, match=r'c\.npy: class-map file must be a dict'):
        load_cam_file(str(tmp_path / 'c.npy'))
