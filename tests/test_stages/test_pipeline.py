"""The recipe as steps (tools/pipeline.py): order and shared folders, distributed commands, the results table,
and the scheduler (dependencies, skipping, concurrent jobs with logs, failures, refusals, --regenerate)."""
import io
import json
import os
import os.path as osp

import pytest

from advcam_mm.fileio.manifest import make_manifest, write_manifest
from advcam_mm.stages.output_folder import StageMismatchError
from advcam_mm.stages.pipeline import PRESETS, Recipe, data_root_options, parse_args, recipe_from_args
from advcam_mm.stages.scheduler import Step, describe, run_steps
from advcam_mm.stages.runner import load_config
from conftest import REPO_ROOT, options_dict


@pytest.fixture
def recipe(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO_ROOT)  # the presets name configs relative to the repository
    return Recipe(work_dir=str(tmp_path / 'run'), methods=('cam', 'advcam'), data_root='/data/VOC2012',
                  options=dict(classifier=['label_generation.steps=8']), **PRESETS['embedded'])


def finished_training(work_dir, checkpoint):
    """A training work dir as the training stage leaves it (its manifest names the final checkpoint)."""
    write_manifest(work_dir, make_manifest('training', {}, {}, 'complete', dict(checkpoint=checkpoint)))
    return osp.join(work_dir, checkpoint)


def options_after(argv):
    return argv[argv.index('--cfg-options') + 1:]


def test_steps_in_order_with_their_dependencies(recipe):
    steps = recipe.steps()
    chain = ['maps', 'seeds', 'IR labels', 'IRNet', 'pseudo masks', 'mask evaluation', 'DeepLab-v2',
             'DeepLab-v2 test ss', 'DeepLab-v2 test ms_flip_crf']
    assert [s.name for s in steps] == ['classifier', *(f'{m} {s}' for m in ('cam', 'advcam') for s in chain),
                                       'CCT', 'CCT test ss', 'CCT test ms_flip_crf']
    after = {s.name: s.after for s in steps}
    assert after['advcam pseudo masks'] == ('advcam IRNet',) and after['CCT'] == ('advcam pseudo masks',)
    assert after['cam maps'] == after['advcam maps'] == ('classifier',)  # the two chains run independently
    text = describe(steps)
    assert '[advcam IR labels] python -m advcam_mm.stages.ir_labels   (after: advcam maps)' in text
    with pytest.raises(ValueError, match='CCT trains on the AdvCAM pseudo masks'):
        Recipe(work_dir='w', methods=('cam',), **PRESETS['embedded'])
    with pytest.raises(ValueError, match="unknown test protocols \\['tta'\\]"):
        Recipe(work_dir='w', test_protocols=('tta',), **PRESETS['embedded'])


def test_steps_share_their_folders_and_settings(recipe):
    classifier = finished_training(recipe.path('classifier'), 'epoch_15.pth')
    irnet = finished_training(recipe.chain_path('advcam', 'irnet'), 'epoch_20.pth')
    named = {s.name: s for s in recipe.steps()}
    maps, masks = recipe.chain_path('advcam', 'maps'), recipe.chain_path('advcam', 'pseudo_masks')
    make_maps = named['advcam maps'].argv()
    assert make_maps[:2] == [recipe.classifier_config, classifier]
    assert make_maps[make_maps.index('--out-dir') + 1] == maps and make_maps[make_maps.index('--method') + 1] == 'advcam'
    assert 'label_generation.steps=8' in make_maps  # the same classifier options for every step that reads it
    assert 'label_generation.steps=8' in named['advcam seeds'].argv()
    assert 'train_dataloader.dataset.data_root=/data/VOC2012' in options_after(make_maps)
    # the IR labels are written where IRNet reads them
    ir_labels = named['advcam IR labels'].argv()
    irn = load_config(recipe.irn_config, options_dict(options_after(named['advcam IRNet'].argv())))
    assert ir_labels[ir_labels.index('--out-dir') + 1] == irn.train_dataloader.dataset.mask_dir
    assert irn.model.backbone.init_cfg.checkpoint == classifier  # the embedded setup: backbones from the classifier
    # the hook fills what the segmentor reads, from the maps and the IRNet of the chain
    pseudo, trained = named['advcam pseudo masks'].argv(), named['advcam DeepLab-v2'].argv()
    assert options_after(pseudo) == options_after(trained)
    segmentor = load_config(recipe.segmentor_config, options_dict(options_after(trained)))
    hook = segmentor.custom_hooks[0]
    assert segmentor.train_dataloader.dataset.mask_dir == masks and hook.maps_dir == maps
    assert hook.refiner.checkpoint == irnet and hook.refiner.config == osp.abspath(recipe.irn_config)
    evaluation = named['advcam mask evaluation'].argv()
    assert evaluation[evaluation.index('--mask-dir') + 1] == masks
    tests = named['advcam DeepLab-v2 test ms_flip_crf']
    finished_training(recipe.chain_path('advcam', 'segmentor'), 'iter_600.pth')
    assert '--tta' in tests.argv() and tests.argv()[-1] == 'model.test_cfg.crf.enabled=True'
    assert '--tta' not in named['advcam DeepLab-v2 test ss'].argv()


def test_several_processes_use_torchrun_for_distributable_steps(recipe):
    named = {s.name: s for s in recipe.steps()}
    for name in ('classifier', 'advcam maps', 'advcam pseudo masks', 'advcam DeepLab-v2'):
        command = named[name].command(['x'], num_procs=4, port=29999)
        assert command[1:6] == ['-m', 'torch.distributed.run', '--nproc_per_node', '4', '--master_port']
        assert command[-2:] == ['--launcher', 'pytorch']
    for name in ('advcam seeds', 'advcam IR labels', 'advcam mask evaluation'):
        assert named[name].command(['x'], num_procs=4)[1:] == ['-m', named[name].module, 'x']


def test_results_table_reads_the_finished_evaluations(recipe):
    def cells(table, row):
        line = next(line for line in table.splitlines() if line.startswith(row))
        return line[len(row):].split()

    table = recipe.summary_table()
    for row in ('seed (best threshold)', 'seed + CRF', 'pseudo mask (IRN)', 'DeepLab-v2 single scale',
                'DeepLab-v2 MS+flip+CRF', 'CCT (semi) single scale'):
        assert set(cells(table, row)[1:]) == {'-'}, row  # nothing has run: every value is missing

    def write(folder, **metrics):
        os.makedirs(folder, exist_ok=True)
        with open(osp.join(folder, 'metrics.json'), 'w') as f:
            json.dump(metrics, f)
    write(recipe.chain_path('advcam', 'seeds'), miou=0.4812, best_threshold=0.13, crf_miou=0.5987)
    write(recipe.chain_path('cam', 'seeds'), miou=0.4123, best_threshold=0.11)
    write(recipe.chain_path('advcam', 'masks_eval'), miou=0.6543)
    write(recipe.chain_path('advcam', 'segmentor', 'test_ms_flip_crf'), mIoU=31.86)
    write(recipe.path('cct', 'test_ss'), mIoU=12.5)
    results = recipe.results()
    assert results['advcam']['seed'] == pytest.approx(48.12) and results['advcam']['seed_crf'] == pytest.approx(59.87)
    assert results['cam']['seed_crf'] is None and results['advcam']['deeplab'] == dict(ss=None, ms_flip_crf=31.86)
    table = recipe.summary_table()
    assert table.splitlines()[0].split() == ['split', 'CAM', 'AdvCAM']
    assert cells(table, 'seed (best threshold)') == ['train', '41.23', '48.12']
    assert cells(table, 'seed + CRF') == ['train', '-', '59.87']
    assert cells(table, 'pseudo mask (IRN)') == ['train', '-', '65.43']
    assert cells(table, 'DeepLab-v2 MS+flip+CRF') == ['val', '-', '31.86']
    assert cells(table, 'CCT (semi) single scale') == ['val', '12.50']
    with_paper = recipe.summary_table({'seed': (48.8, 55.6), 'cct': {'ss': (1.0, 2.0)}})
    assert cells(with_paper, 'seed (best threshold)') == ['train', '41.23', '48.12', '48.8', '->', '55.6']
    assert cells(with_paper, 'seed + CRF') == ['train', '-', '59.87', '-']
    assert cells(with_paper, 'CCT (semi) single scale') == ['val', '12.50', '1.0', '->', '2.0']
    with open(recipe.write_summary()) as f:
        assert json.load(f)['advcam']['mask'] == pytest.approx(65.43)


def test_command_line_choices(tmp_path):
    recipe = recipe_from_args(parse_args(['--work-dir', str(tmp_path), '--cct-config', 'none', '--tests', 'ss']))
    assert recipe.cct_config is None and list(recipe.test_protocols) == ['ss']
    assert recipe_from_args(parse_args(['--methods', 'cam'])).cct_config is None  # CCT needs the AdvCAM masks
    with pytest.raises(SystemExit, match='--make-embedded-dataset needs --data-root'):
        recipe_from_args(parse_args(['--make-embedded-dataset', '0']))
    made = recipe_from_args(parse_args(['--data-root', 'd/VOCdevkit/VOC2012', '--make-embedded-dataset', '3']))
    assert made.steps()[0].name == 'dataset' and made.steps()[0].argv() == ['--out', 'd', '--seed', '3']
    semi = osp.join(REPO_ROOT, 'configs', 'advcam', 'cct_r18-w16_600it_embedded-semi.py')
    assert sorted(data_root_options(semi, '/x')) == sorted([
        'train_dataloader.dataset.labelled.data_root=/x', 'train_dataloader.dataset.weak.data_root=/x',
        'val_dataloader.dataset.data_root=/x', 'test_dataloader.dataset.data_root=/x'])


def fake(name, out, *flags, after=()):
    return Step(name, 'helpers.fake_stage', lambda: ['--out', str(out), *flags], tuple(after))


def made(out):
    with open(osp.join(out, 'done')) as f:
        return json.load(f)


def test_scheduler_runs_in_order_skips_finished_steps_and_runs_ready_steps_together(tmp_path):
    a, b, c = (tmp_path / name for name in 'abc')
    steps = [fake('a', a), fake('b', b, '--sleep', '1', after=['a']), fake('c', c, '--sleep', '1', after=['a'])]
    stream = io.StringIO()
    seconds = run_steps(steps, jobs=2, log_dir=str(tmp_path / 'logs'), stream=stream)
    assert set(seconds) == {'a', 'b', 'c'} and all(s > 0 for s in seconds.values())
    assert made(a)['end'] <= min(made(b)['start'], made(c)['start'])  # b and c waited for a
    assert made(b)['start'] < made(c)['end'] and made(c)['start'] < made(b)['end']  # and ran at the same time
    with open(tmp_path / 'logs' / 'b.log') as f:
        assert f'fake stage writing {b}' in f.read()
    assert f'[b] $ python -m helpers.fake_stage --out {b} --sleep 1' in stream.getvalue()

    again = io.StringIO()
    assert run_steps(steps, jobs=2, stream=again) == dict(a=0.0, b=0.0, c=0.0)
    assert again.getvalue().count('complete with the same settings, skipped') == 3


def test_scheduler_starts_the_longest_chain_first_and_gives_a_lone_step_all_cores(tmp_path):
    x, y, z, w = (tmp_path / name for name in 'xyzw')
    steps = [fake('x', x), fake('y', y), fake('z', z, after=['y']), fake('w', w, after=['z'])]
    run_steps(steps, jobs=1, stream=io.StringIO())
    assert made(y)['end'] <= made(x)['start']  # two steps wait on y, none on x: y first though listed second
    a, b, c = (tmp_path / name for name in 'abc')
    run_steps([fake('a', a), fake('b', b, '--sleep', '1', after=['a']), fake('c', c, '--sleep', '1', after=['a'])],
              jobs=2, log_dir=str(tmp_path / 'logs'), stream=io.StringIO())
    cores = os.cpu_count()
    assert made(a)['threads'] == cores  # nothing else could run beside it
    assert made(b)['threads'] == made(c)['threads'] == max(1, cores // 2)  # two at once: half each


def test_scheduler_stops_on_failures_and_refusals_and_regenerates_on_request(tmp_path):
    with pytest.raises(RuntimeError, match=r"(?s)\[b\] failed \(exit 3\).*boom: the stage failed"):
        run_steps([fake('a', tmp_path / 'a'), fake('b', tmp_path / 'b', '--fail', after=['a'])], jobs=2,
                  log_dir=str(tmp_path / 'logs'), stream=io.StringIO())
    assert made(tmp_path / 'a')
    refusing = [fake('r', tmp_path / 'r', '--refuse')]
    with pytest.raises(StageMismatchError, match='settings.x: 1 -> 2'):
        run_steps(refusing, stream=io.StringIO())
    assert not osp.exists(tmp_path / 'r')
    run_steps(refusing, regenerate=['r'], stream=io.StringIO())
    assert made(tmp_path / 'r')['regenerate'] is True
    with pytest.raises(ValueError, match=r"unknown steps \['z'\]"):
        run_steps([fake('a', tmp_path / 'a', after=['z'])], stream=io.StringIO())
