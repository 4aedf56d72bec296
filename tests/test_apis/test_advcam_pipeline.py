"""The whole-pipeline stage list (tools/pipeline.py): commands, markers, shared folders, the summary table."""
import json
import os
import os.path as osp

import pytest

from advcam_mm.apis.advcam_pipeline import AdvCAMPipeline, collect_test_metrics, _merged_config, describe


@pytest.fixture
def pipeline(tmp_path):
    return AdvCAMPipeline.from_preset('embedded', str(tmp_path / 'run'), label_generation={'steps': 8},
                                      classifier_options=['train_cfg.max_epochs=3'],
                                      segmentor_options=['train_cfg.max_iters=50'])


def by_name(stages):
    return {s.name: s for s in stages}


def test_stage_order_and_markers(pipeline, tmp_path):
    stages = pipeline.stages()
    assert [s.name for s in stages] == ['dataset', 'classifier', 'advcam maps', 'seed evaluation', 'IR labels',
                                        'IRNet', 'pseudo masks', 'mask evaluation', 'segmentor', 'test']
    named = by_name(stages)
    run = str(tmp_path / 'run')
    assert named['classifier'].marker == osp.join(run, 'classifier', 'epoch_3.pth')  # max_epochs override
    irn_epochs = _merged_config(pipeline.irn_config, []).train_cfg.max_epochs
    assert named['IRNet'].marker == osp.join(run, 'irn', f'epoch_{irn_epochs}.pth')
    assert named['segmentor'].marker == osp.join(run, 'segmentor', 'iter_50.pth')
    assert named['test'].command[3] == named['segmentor'].marker and '--tta' in named['test'].command
    assert named['test'].marker == osp.join(run, 'segmentation_iter_50_tta_crf.json')
    assert 'model.test_cfg.crf.enabled=True' in named['test'].command
    assert all(not s.done() for s in stages[1:])
    assert 'tools/make_pseudo_labels.py' in describe(stages)


def test_stages_share_folders_and_label_settings(pipeline):
    named = by_name(pipeline.stages())
    maps_dir, masks_dir = pipeline.path('advcam_maps'), pipeline.path('pseudo_masks')
    make_cams = named['advcam maps'].command
    assert make_cams[make_cams.index('--out-dir') + 1] == maps_dir
    assert 'label_generation.steps=8' in make_cams and make_cams[make_cams.index('--split') + 1] == 'train_aug'
    # the segmentor config, as the pseudo-mask and training stages override it
    options = named['segmentor'].command[named['segmentor'].command.index('--cfg-options') + 1:]
    assert options == named['pseudo masks'].command[named['pseudo masks'].command.index('--cfg-options') + 1:]
    cfg = _merged_config(pipeline.segmentor_config, options)
    hook = cfg.custom_hooks[0]
    assert cfg.train_dataloader.dataset.mask_dir == masks_dir  # the hook fills what the segmentor reads
    assert hook.maps_dir == maps_dir and hook.label_generation == {'steps': 8}
    assert hook.classifier_checkpoint == pipeline.classifier_checkpoint
    assert hook.refiner.checkpoint == pipeline.irn_checkpoint and hook.refiner.type == 'irn'
    assert cfg.model.backbone.init_cfg.checkpoint == pipeline.classifier_checkpoint
    evaluation = named['mask evaluation'].command
    assert evaluation[evaluation.index('--mask-dir') + 1] == masks_dir
    irn_command = named['IRNet'].command
    irn = _merged_config(pipeline.irn_config, irn_command[irn_command.index('--cfg-options') + 1:])
    assert irn.train_dataloader.dataset.mask_dir == pipeline.path('ir_labels')


def test_several_processes_use_the_distributed_launchers(tmp_path):
    pipeline = AdvCAMPipeline.from_preset('voc', str(tmp_path / 'voc'), num_procs=4)
    named = by_name(pipeline.stages())
    assert 'dataset' not in named
    assert named['classifier'].command[:4] == ['bash', 'tools/dist_train.sh', pipeline.classifier_config, '4']
    assert named['advcam maps'].command[:5] == ['python', '-m', 'torch.distributed.run', '--nproc_per_node', '4']
    assert named['pseudo masks'].command[-2:] == ['--launcher', 'pytorch']
    assert named['segmentor'].env['PYTHON']
    with pytest.raises(ValueError, match='unknown preset'):
        AdvCAMPipeline.from_preset('coco', str(tmp_path))


def test_summary_table_reads_the_stage_results(pipeline, tmp_path):
    os.makedirs(pipeline.path(), exist_ok=True)
    assert '-' in pipeline.summary_table()  # nothing run yet
    with open(pipeline.path('seeds.json'), 'w') as f:
        json.dump(dict(miou=0.4812, best_threshold=0.13, crf_miou=0.5987), f)
    with open(pipeline.path('masks.json'), 'w') as f:
        json.dump(dict(miou=0.6543), f)
    test_dir = tmp_path / 'test_out'
    for stamp, miou in (('20260101_000000', 10.0), ('20260101_000001', 31.86)):
        (test_dir / stamp).mkdir(parents=True)
        (test_dir / stamp / f'{stamp}.json').write_text(json.dumps({'mIoU': miou, 'aAcc': 88.0}))
        os.utime(test_dir / stamp / f'{stamp}.json', (1e9 + miou, 1e9 + miou))
    assert pipeline.segmentation_json == pipeline.path('segmentation_iter_50_tta_crf.json')
    collect_test_metrics(str(test_dir), pipeline.segmentation_json, dict(tta=True, crf=True))
    results = pipeline.results()
    assert results['seed'] == pytest.approx(48.12) and results['seed_crf'] == pytest.approx(59.87)
    assert results['mask'] == pytest.approx(65.43) and results['segmentation'] == 31.86
    table = pipeline.summary_table()
    for text in ('AdvCAM seed (bg 0.13)', '48.12', '59.87', '65.43', '31.86', 'MS+flip+CRF'):
        assert text in table
