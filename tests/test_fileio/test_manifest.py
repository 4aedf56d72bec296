"""The stage manifest: a digest of what changes the result only, the differences it names, its errors."""
import json
import os
import os.path as osp

import numpy as np
import pytest

from advcam_mm.fileio.manifest import (MANIFEST_NAME, ManifestError, differences, file_input, file_sha256,
                                       folder_input, jsonable, make_manifest, manifest_path, read_manifest,
                                       settings_digest, write_manifest)

SETTINGS = dict(method='advcam', scales=(1.0, 0.5), steps=27, mean=[1.0, 2.0])


def test_digest_depends_on_settings_and_input_content_not_on_paths_status_or_time(tmp_path):
    inputs = dict(classifier_checkpoint=dict(path='/a/epoch_5.pth', sha256='ab' * 32),
                  class_maps=dict(path='/a/maps', manifest='cd' * 32, split='train'))
    moved = dict(classifier_checkpoint=dict(path='/elsewhere/epoch_5.pth', sha256='ab' * 32),
                 class_maps=dict(path='/b/maps', manifest='cd' * 32, split='val'))
    first = make_manifest('class_maps', SETTINGS, inputs, 'incomplete', dict(num_images=3))
    second = make_manifest('class_maps', dict(SETTINGS), moved, 'complete', dict(num_images=4))
    second['updated'], second['code_version'] = '1999-01-01T00:00:00', 'advcam_mm 0.0.0 (git 0000000)'
    assert first['digest'] == second['digest'] == settings_digest('class_maps', SETTINGS, inputs)
    assert differences(first, second) == []
    # a tuple and the list JSON gives back are the same setting; a numpy number and a float too
    assert settings_digest('class_maps', dict(SETTINGS, scales=[1.0, 0.5], steps=np.int64(27)), inputs) == \
        first['digest']
    # what changes the result changes the digest
    for stage, settings, changed in (('ir_labels', SETTINGS, inputs),
                                     ('class_maps', dict(SETTINGS, steps=8), inputs),
                                     ('class_maps', SETTINGS, dict(inputs, class_maps=dict(path='/a/maps',
                                                                                          manifest='ef' * 32)))):
        assert settings_digest(stage, settings, changed) != first['digest']


def test_differences_name_every_changed_key_with_both_values():
    recorded = make_manifest('class_maps', dict(method='cam', scales=[1.0], flip=True),
                             dict(checkpoint=dict(path='x', sha256='1' * 64)))
    expected = make_manifest('class_maps', dict(method='advcam', scales=[1.0], flip=True, steps=2),
                             dict(checkpoint=dict(path='y', sha256='2' * 64)))
    assert differences(recorded, expected) == [
        f"inputs.checkpoint.sha256: '{'1' * 64}' -> '{'2' * 64}'",
        "settings.method: 'cam' -> 'advcam'",
        "settings.steps: '<absent>' -> 2",
    ]
    assert differences(expected, expected) == []
    nested = differences(make_manifest('training', dict(optim=dict(lr=0.1, momentum=0.9)), {}),
                         make_manifest('training', dict(optim=dict(lr=0.05, momentum=0.9)), {}))
    assert nested == ['settings.optim.lr: 0.1 -> 0.05']
    assert differences(make_manifest('ir_labels', {}, {}), make_manifest('class_maps', {}, {})) == [
        "stage: 'ir_labels' -> 'class_maps'"]


def test_write_and_read_back(tmp_path):
    folder = str(tmp_path / 'out')
    manifest = make_manifest('seed_evaluation', SETTINGS, {}, 'complete', dict(miou=np.float32(0.5)))
    write_manifest(folder, manifest)
    assert manifest_path(folder) == osp.join(folder, MANIFEST_NAME)
    assert read_manifest(folder) == jsonable(manifest)
    assert read_manifest(folder)['outputs'] == {'miou': 0.5}
    assert os.listdir(folder) == [MANIFEST_NAME]  # written atomically: no temporary file is left
    assert read_manifest(str(tmp_path / 'none')) is None


@pytest.mark.parametrize('content,message', [
    ('{"format": 1, "stage"', 'unreadable manifest'),
    (json.dumps(dict(format=1, stage='class_maps', status='complete')), 'not a stage manifest .missing settings, '
                                                                        'inputs, digest'),
    (json.dumps(dict(format=7, stage='s', status='complete', settings={}, inputs={}, digest='')),
     'manifest format 7, this version reads 1'),
])
def test_bad_manifests_are_named(tmp_path, content, message):
    (tmp_path / MANIFEST_NAME).write_text(content)
    with pytest.raises(ManifestError, match=f'{tmp_path / MANIFEST_NAME}: {message}'):
        read_manifest(str(tmp_path))


def test_inputs_files_and_folders(tmp_path):
    path = tmp_path / 'weights.pth'
    path.write_bytes(b'0123')
    assert file_input(str(path)) == dict(path=str(path), sha256=file_sha256(str(path)))
    assert file_sha256(str(path)) == '1be2e452b46d7a0d9656bbb1f768e8248eba1b75baed65f5d99eafa948899a6a'
    path.write_bytes(b'01234')  # another size: the cache does not answer for the old content
    assert file_sha256(str(path)) != '1be2e452b46d7a0d9656bbb1f768e8248eba1b75baed65f5d99eafa948899a6a'
    with pytest.raises(FileNotFoundError, match='missing.pth: input file not found'):
        file_input(str(tmp_path / 'missing.pth'))

    folder = str(tmp_path / 'maps')
    os.makedirs(folder)
    with pytest.raises(ManifestError, match=f'{folder}: no {MANIFEST_NAME}; this input must be the output'):
        folder_input(folder)
    assert folder_input(folder, required=False) == dict(path=folder, manifest=None)  # e.g. ground truth
    manifest = make_manifest('class_maps', SETTINGS, {}, 'incomplete')
    write_manifest(folder, manifest)
    with pytest.raises(ManifestError, match="the class_maps stage that writes .* has not finished"):
        folder_input(folder)
    write_manifest(folder, dict(manifest, status='complete'))
    assert folder_input(folder) == dict(path=folder, manifest=manifest['digest'])
