"""Class-map stage: 1 vs 2 processes, resume after a kill, rerun / refuse / regenerate, the stale-maps case."""
import glob
import os
import os.path as osp
import runpy
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from advcam_mm.core.advcam import advcam_maps as reference_advcam_maps
from advcam_mm.fileio import CheckpointError, load_cam_file, save_checkpoint
from advcam_mm.fileio.images import read_rgb
from advcam_mm.fileio.manifest import read_manifest
from advcam_mm.stages.output_folder import StageMismatchError
from conftest import (FAST_ADVCAM, REPO_ROOT, embedded_data_options, mtimes, run_distributed, run_tool, split_file,
                      tool_env)

TOOL = osp.join(REPO_ROOT, 'tools', 'make_cams.py')


def make_cams_args(classifier, data_root, out_dir, split, method='advcam', options=()):
    config, checkpoint = classifier
    return ['tools/make_cams.py', config, checkpoint, '--out-dir', str(out_dir), '--split', str(split),
            '--method', method, '--cfg-options', *embedded_data_options(data_root), *FAST_ADVCAM, *options]


def make_cams_in_process(args, monkeypatch):
    """``tools/make_cams.py`` as a user runs it, in this process (the tool is the stage's main)."""
    monkeypatch.setattr(sys, 'argv', [TOOL, *args[1:]])
    runpy.run_path(TOOL, run_name='__main__')


def assert_same_maps(dir_a, dir_b, ids):
    for image_id in ids:
        a, b = (load_cam_file(osp.join(d, f'{image_id}.npy')) for d in (dir_a, dir_b))
        np.testing.assert_array_equal(a['keys'], b['keys'])
        np.testing.assert_allclose(a['high_res'], b['high_res'], atol=2e-3)
        np.testing.assert_allclose(a['cam'], b['cam'], atol=2e-3)


def ids_of(split):
    with open(split) as f:
        return [line.strip() for line in f if line.strip()]


def test_two_processes_write_the_same_files_as_one(trained_tiny_classifier, embedded_voc_root, tmp_path):
    split = split_file(embedded_voc_root, 'val', 6, tmp_path / 'six.txt')
    one, two = tmp_path / 'one', tmp_path / 'two'
    single = run_tool(make_cams_args(trained_tiny_classifier, embedded_voc_root, one, split))
    assert 'wrote 6, kept 0 finished' in single.stdout and 'images/s' in single.stdout
    double = run_distributed(make_cams_args(trained_tiny_classifier, embedded_voc_root, two, split))
    assert '2 process(es)' in double.stdout and double.stdout.count('wrote 3, kept 0 finished') == 2
    assert_same_maps(one, two, ids_of(split))
    assert read_manifest(str(two))['digest'] == read_manifest(str(one))['digest']
    assert read_manifest(str(two))['status'] == 'complete'
    maps = load_cam_file(osp.join(one, f'{ids_of(split)[0]}.npy'))
    assert maps['high_res'].max() == pytest.approx(1.0, abs=1e-2)  # max-normalised per class
    assert maps['cam'].shape[1:] == (32, 32) and maps['high_res'].shape[1:] == (128, 128)


def test_killed_run_resumes_without_losing_files(trained_tiny_classifier, embedded_voc_root, tmp_path):
    split = split_file(embedded_voc_root, 'train', 24, tmp_path / 'train24.txt')
    out_dir = str(tmp_path / 'maps')
    # the 4 default scales and 3 steps, one image per climbing group (the embedded images share one size, so by
    # default all 24 climb as one group and land together): files appear one by one and the kill lands mid-run
    args = make_cams_args(trained_tiny_classifier, embedded_voc_root, out_dir, split,
                          options=['label_generation.steps=3', 'label_generation.scales=[1.0,0.5,1.5,2.0]',
                                   'label_generation.max_group=1'])
    process = subprocess.Popen([sys.executable, *args], cwd=REPO_ROOT, env=tool_env(1), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and len(glob.glob(osp.join(out_dir, '*.npy'))) < 3:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = mtimes(out_dir, '*.npy')
    assert 3 <= len(before) < 24, 'the kill should land mid-run'
    for path in before:  # every file present after the kill is complete
        load_cam_file(path)
    assert read_manifest(out_dir)['status'] == 'incomplete'

    result = run_tool(args)
    assert '(resume,' in result.stdout and f'kept {len(before)} finished' in result.stdout
    assert len(glob.glob(osp.join(out_dir, '*.npy'))) == 24
    assert all(os.stat(p).st_mtime_ns == mtime for p, mtime in before.items())
    assert not glob.glob(osp.join(out_dir, '*.tmp'))  # no temporary file survives a finished run
    assert read_manifest(out_dir)['status'] == 'complete'


def test_rerun_skips_other_settings_are_refused_regenerate_remakes(trained_tiny_classifier, embedded_voc_root,
                                                                   small_train_split, cam_maps, tmp_path,
                                                                   monkeypatch, capsys):
    out_dir = shutil.copytree(cam_maps, str(tmp_path / 'maps'))
    before = mtimes(out_dir, '*.npy')
    args = make_cams_args(trained_tiny_classifier, embedded_voc_root, out_dir, small_train_split, method='cam')
    make_cams_in_process(args, monkeypatch)
    assert '(reuse,' in capsys.readouterr().out
    assert mtimes(out_dir, '*.npy') == before

    with pytest.raises(StageMismatchError) as error:
        make_cams_in_process(args + ['label_generation.flip=False'], monkeypatch)
    assert 'settings.flip: True -> False' in str(error.value) and 'settings.scales' not in str(error.value)
    config, checkpoint = trained_tiny_classifier
    retrained = str(tmp_path / 'retrained.pth')
    state = torch.load(checkpoint, map_location='cpu', weights_only=False)
    state['state_dict']['classifier.weight'] = state['state_dict']['classifier.weight'] * 2
    torch.save(state, retrained)
    with pytest.raises(StageMismatchError, match=r'inputs\.classifier_checkpoint\.sha256: '):
        make_cams_in_process([args[0], config, retrained, *args[3:]], monkeypatch)
    assert mtimes(out_dir, '*.npy') == before  # refused: nothing touched

    make_cams_in_process(args + ['label_generation.flip=False', '--regenerate'], monkeypatch)
    assert '(regenerate,' in capsys.readouterr().out
    after = mtimes(out_dir, '*.npy')
    assert after.keys() == before.keys() and all(after[p] != before[p] for p in before)
    assert read_manifest(out_dir)['settings']['flip'] is False


def independent_advcam(classifier, info, settings):
    """AdvCAM maps of one image from the classifier's weights, without the stage's code."""
    from advcam_mm.stages.models import build_inference_model
    from advcam_mm.stages.runner import load_config
    config, checkpoint = classifier
    cfg = load_config(config)
    model = build_inference_model(cfg, checkpoint)
    mean = torch.tensor(cfg.model.data_preprocessor.mean).view(3, 1, 1)
    std = torch.tensor(cfg.model.data_preprocessor.std).view(3, 1, 1)
    image = (torch.from_numpy(read_rgb(info['img_path'])).permute(2, 0, 1).float() - mean) / std
    class_ids = np.flatnonzero(info['gt_class_labels'])
    return reference_advcam_maps(model.cam_features, model.cam_weight.detach(), image, class_ids,
                                 scales=settings['scales'], steps=settings['steps'], step_size=settings['step_size'],
                                 mask_thresh=settings['mask_thresh'], mask_coef=settings['mask_coef'],
                                 flip=settings['flip'])


def test_stale_cam_maps_are_refused_then_regenerated_as_advcam(trained_tiny_classifier, embedded_voc_root,
                                                               small_train_split, cam_maps, tmp_path, monkeypatch):
    """The reported bug: ``--method advcam`` into a CAM folder kept the CAM maps; now it is refused or remade."""
    from advcam_mm.stages.datasets import build_dataset, samples
    from advcam_mm.stages.runner import load_config
    out_dir = shutil.copytree(cam_maps, str(tmp_path / 'maps'))
    cam_files = {p: load_cam_file(p)['high_res'] for p in glob.glob(osp.join(out_dir, '*.npy'))}
    args = make_cams_args(trained_tiny_classifier, embedded_voc_root, out_dir, small_train_split, method='advcam')
    with pytest.raises(StageMismatchError) as error:
        make_cams_in_process(args, monkeypatch)
    assert "settings.method: 'cam' -> 'advcam'" in str(error.value) and '--regenerate' in str(error.value)
    assert all(np.array_equal(load_cam_file(p)['high_res'], maps) for p, maps in cam_files.items())

    make_cams_in_process(args + ['--regenerate'], monkeypatch)
    cfg = load_config(trained_tiny_classifier[0], {'label_generation.steps': 2})
    settings = dict(cfg.label_generation)
    infos = samples(build_dataset(dict(cfg.train_dataloader.dataset, data_root=embedded_voc_root),
                                  small_train_split))
    assert len(infos) == len(cam_files) == 4
    differs_from_cam = 0
    for info in infos:
        written = load_cam_file(osp.join(out_dir, f"{info['img_id']}.npy"))
        expected = independent_advcam(trained_tiny_classifier, info, settings)
        np.testing.assert_array_equal(written['keys'], expected['keys'].numpy())
        np.testing.assert_allclose(written['high_res'], expected['high_res'].numpy(), atol=2e-3)
        differs_from_cam += not np.allclose(written['high_res'], cam_files[osp.join(out_dir, f"{info['img_id']}.npy")],
                                            atol=1e-2)
    assert differs_from_cam == len(infos)
    manifest = read_manifest(out_dir)
    assert manifest['settings']['method'] == 'advcam' and manifest['settings']['steps'] == 2
    assert manifest['status'] == 'complete' and manifest['outputs']['num_images'] == 4


def test_checkpoint_without_backbone_is_refused(trained_tiny_classifier, embedded_voc_root, small_train_split,
                                                tmp_path):
    from advcam_mm.fileio import read_state_dict
    from advcam_mm.stages import class_maps
    from conftest import options_dict
    config, checkpoint = trained_tiny_classifier
    state_dict, _ = read_state_dict(checkpoint)
    head_only = str(tmp_path / 'head_only.pth')
    save_checkpoint(head_only, {k: v for k, v in state_dict.items() if not k.startswith('backbone.')}, {})
    with pytest.raises(CheckpointError, match=f'{head_only}: the checkpoint does not fit the classifier') as error:
        class_maps.run(config, head_only, str(tmp_path / 'maps'), small_train_split, 'cam',
                       cfg_options=options_dict(embedded_data_options(embedded_voc_root)), show_progress=False)
    assert 'backbone.conv1.weight' in str(error.value)
    assert not glob.glob(str(tmp_path / 'maps' / '*.npy'))
