"""The stage protocol: fresh / reuse / resume / regenerate, refusals that name the differences, foreign files."""
import os
import os.path as osp

import pytest

from advcam_mm.fileio.manifest import MANIFEST_NAME, read_manifest
from advcam_mm.stages.output_folder import OutputFolder, StageMismatchError

INPUTS = dict(checkpoint=dict(path='/somewhere/epoch_5.pth', sha256='a' * 64))


def folder_of(path, **settings):
    return OutputFolder(str(path), 'class_maps', dict(dict(method='cam', flip=True), **settings), INPUTS,
                        patterns=('*.npy',))


def write(path, text='x'):
    with open(path, 'w') as f:
        f.write(text)


def test_fresh_then_resume_then_reuse(tmp_path):
    folder = folder_of(tmp_path / 'maps')
    assert folder.plan() == 'fresh'
    folder.start('fresh')
    assert read_manifest(folder.path)['status'] == 'incomplete' and not folder.is_complete()
    write(osp.join(folder.path, 'a.npy'))
    # killed before the end: the same settings resume, the finished file stays
    assert folder_of(tmp_path / 'maps').plan() == 'resume'
    manifest = folder.complete(num_images=2)
    assert manifest['outputs'] == {'num_images': 2} and manifest['status'] == 'complete'
    assert read_manifest(folder.path)['digest'] == manifest['digest']
    again = folder_of(tmp_path / 'maps')
    assert again.plan() == 'reuse' and again.is_complete()
    assert osp.isfile(osp.join(folder.path, 'a.npy'))
    # regenerate=True changes nothing when the settings are the same
    assert again.plan(regenerate=True) == 'reuse'


def test_other_settings_are_refused_naming_each_difference(tmp_path):
    folder = folder_of(tmp_path / 'maps')
    folder.start('fresh')
    write(osp.join(folder.path, 'a.npy'))
    folder.complete()
    other = OutputFolder(folder.path, 'class_maps', dict(method='advcam', flip=True, steps=2),
                         dict(checkpoint=dict(path='/moved/epoch_5.pth', sha256='b' * 64)), patterns=('*.npy',))
    with pytest.raises(StageMismatchError) as error:
        other.plan()
    message = str(error.value)
    assert message.startswith(f'{osp.join(folder.path, MANIFEST_NAME)}: the files in {folder.path} were made by '
                              'the class_maps stage with other settings or inputs')
    for line in ("settings.method: 'cam' -> 'advcam'", "settings.steps: '<absent>' -> 2",
                 f"inputs.checkpoint.sha256: '{'a' * 64}' -> '{'b' * 64}'", '--regenerate'):
        assert line in message
    assert 'flip' not in message  # only what differs
    assert not other.is_complete()
    # a moved checkpoint with the same content is the same input
    moved = OutputFolder(folder.path, 'class_maps', dict(method='cam', flip=True),
                         dict(checkpoint=dict(path='/moved/epoch_5.pth', sha256='a' * 64)), patterns=('*.npy',))
    assert moved.plan() == 'reuse'


def test_regenerate_removes_only_the_stage_files(tmp_path):
    folder = folder_of(tmp_path / 'maps')
    folder.start('fresh')
    for name in ('a.npy', 'b.npy', 'notes.txt'):
        write(osp.join(folder.path, name))
    os.makedirs(osp.join(folder.path, 'sub.npy'))  # a folder matching the pattern is not a stage file to delete
    folder.complete()
    other = folder_of(tmp_path / 'maps', method='advcam')
    assert other.plan(regenerate=True) == 'regenerate'
    other.start('regenerate')
    assert sorted(os.listdir(folder.path)) == sorted([MANIFEST_NAME, 'notes.txt', 'sub.npy'])
    recorded = read_manifest(folder.path)
    assert recorded['settings']['method'] == 'advcam' and recorded['status'] == 'incomplete'
    assert other.plan() == 'resume'


def test_files_without_a_manifest_are_refused_and_kept(tmp_path):
    path = tmp_path / 'ground_truth'
    path.mkdir()
    for name in ('x.npy', 'y.npy'):
        write(str(path / name), 'precious')
    for regenerate in (False, True):
        with pytest.raises(StageMismatchError, match=f'{path} holds 2 files .e.g. x.npy. but no {MANIFEST_NAME}'):
            folder_of(path).plan(regenerate)
    assert sorted(os.listdir(path)) == ['x.npy', 'y.npy']
    assert (path / 'x.npy').read_text() == 'precious'
    # files outside the stage's patterns do not make a folder foreign
    other = tmp_path / 'with_readme'
    other.mkdir()
    write(str(other / 'README.txt'))
    assert folder_of(other).plan() == 'fresh'


def test_unknown_plan_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="unknown plan 'overwrite'"):
        folder_of(tmp_path).start('overwrite')
