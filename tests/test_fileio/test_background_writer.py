"""The background writer: no lost writes, same files as direct saves in any order, errors name the file."""
import os
import threading

import numpy as np
import pytest

from advcam_mm.fileio.background_writer import BackgroundWriteError, BackgroundWriter
from advcam_mm.fileio.cam_files import cam_file_path, load_cam_file, save_cam_file


def _maps(seed):
    rng = np.random.default_rng(seed)
    keys = rng.choice(20, size=seed % 3 + 1, replace=False)
    return keys, rng.random((len(keys), 4, 5), np.float32), rng.random((len(keys), 13, 17), np.float32)


def test_no_lost_writes_through_a_small_queue(tmp_path):
    saving_threads = set()

    def save(path, *args):
        saving_threads.add(threading.get_ident())
        save_cam_file(path, *args)

    with BackgroundWriter(max_pending=2) as writer:
        for i in range(40):
            writer.submit(save, cam_file_path(str(tmp_path), f'img_{i:02d}'), *_maps(i))
    assert writer.written == 40 and saving_threads and threading.get_ident() not in saving_threads
    assert sorted(os.listdir(tmp_path)) == [f'img_{i:02d}.npy' for i in range(40)]  # no temporary files left
    for i in range(40):
        keys, strided, high_res = _maps(i)
        loaded = load_cam_file(cam_file_path(str(tmp_path), f'img_{i:02d}'))
        np.testing.assert_array_equal(loaded['keys'], keys)
        np.testing.assert_array_equal(loaded['cam'], strided.astype(np.float16))
        np.testing.assert_array_equal(loaded['high_res'], high_res.astype(np.float16))


def test_files_do_not_depend_on_submission_order(tmp_path):
    direct, forward, backward = (tmp_path / name for name in ('direct', 'forward', 'backward'))
    for i in range(12):
        save_cam_file(cam_file_path(str(direct), str(i)), *_maps(i))
    for folder, order in ((forward, range(12)), (backward, reversed(range(12)))):
        with BackgroundWriter(max_pending=3) as writer:
            for i in order:
                writer.submit(save_cam_file, cam_file_path(str(folder), str(i)), *_maps(i))
    for i in range(12):
        expected = (direct / f'{i}.npy').read_bytes()
        assert (forward / f'{i}.npy').read_bytes() == expected == (backward / f'{i}.npy').read_bytes()


def test_first_error_names_the_file_and_stops_the_writing(tmp_path):
    (tmp_path / 'not_a_folder').write_text('a file where a folder should be')
    bad_path = str(tmp_path / 'not_a_folder' / 'img_1.npy')
    writer = BackgroundWriter(max_pending=4)
    writer.submit(save_cam_file, str(tmp_path / 'out' / 'img_0.npy'), *_maps(0))
    writer.submit(save_cam_file, bad_path, *_maps(1))
    writer.submit(save_cam_file, str(tmp_path / 'out' / 'img_2.npy'), *_maps(2))
    with pytest.raises(BackgroundWriteError, match='not_a_folder/img_1.npy: save_cam_file failed') as caught:
        writer.flush()
    assert isinstance(caught.value.__cause__, OSError)
    with pytest.raises(BackgroundWriteError, match='img_1.npy'):  # also at the next submit ...
        writer.submit(save_cam_file, str(tmp_path / 'out' / 'img_3.npy'), *_maps(3))
    with pytest.raises(BackgroundWriteError, match='img_1.npy'):  # ... and at close
        writer.close()
    assert os.listdir(tmp_path / 'out') == ['img_0.npy']  # saves after the failure are dropped
    with pytest.raises(RuntimeError, match='closed'):
        writer.submit(save_cam_file, str(tmp_path / 'out' / 'img_4.npy'), *_maps(4))


def test_an_error_in_the_callers_block_wins_and_pending_saves_finish(tmp_path):
    with pytest.raises(KeyError, match='caller'):
        with BackgroundWriter() as writer:
            writer.submit(save_cam_file, str(tmp_path / 'a.npy'), *_maps(0))
            raise KeyError('caller')
    assert (tmp_path / 'a.npy').exists() and writer.written == 1
