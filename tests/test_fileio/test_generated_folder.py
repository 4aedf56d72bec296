"""generate_folder: whole or nothing, idempotent, careful with folders it did not make."""
import os

import pytest

from advcam_mm.fileio.generated_folder import generate_folder


def _writer(calls, fail_after=None):
    def generate(folder):
        calls.append(folder)
        open(os.path.join(folder, 'data.txt'), 'w').write('data')
        if fail_after is not None:
            raise KeyboardInterrupt  # a kill in the middle
        open(os.path.join(folder, 'manifest.json'), 'w').write('{}')
    return generate


def _complete(folder):
    return os.path.isfile(os.path.join(folder, 'manifest.json'))


def test_interrupted_generation_leaves_nothing_and_a_rerun_completes(tmp_path):
    out = tmp_path / 'dataset'
    calls = []
    with pytest.raises(KeyboardInterrupt):
        generate_folder(out, _complete, _writer(calls, fail_after=1), 'manifest.json')
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ['.dataset.lock']
    assert generate_folder(out, _complete, _writer(calls), 'manifest.json') == str(out)
    assert sorted(os.listdir(out)) == ['data.txt', 'manifest.json']
    generate_folder(out, _complete, _writer(calls), 'manifest.json')
    assert len(calls) == 2  # complete: not generated again
    generate_folder(out, _complete, _writer(calls), 'manifest.json', force=True)
    assert len(calls) == 3


def test_foreign_folder_is_replaced_only_when_forced(tmp_path):
    out = tmp_path / 'dataset'
    out.mkdir()
    (out / 'precious.txt').write_text('user data')
    with pytest.raises(FileExistsError, match='my_generator: .*dataset exists and was not made by this generator'):
        generate_folder(out, _complete, _writer([]), 'manifest.json', who='my_generator')
    assert (out / 'precious.txt').exists()
    generate_folder(out, _complete, _writer([]), 'manifest.json', force=True)
    assert sorted(os.listdir(out)) == ['data.txt', 'manifest.json']
