"""tools/dist_train.sh with 2 processes (gloo on CPU): the tiny DeepLab-v2 config trains on hook-made AdvCAM labels;
tools/test.py then evaluates it with multi-scale + flip and the dense CRF."""
import glob
import json
import os.path as osp

from conftest import REPO_ROOT, run_tool

DEEPLAB_CONFIG = osp.join(REPO_ROOT, 'configs', 'advcam', 'deeplabv2_r18-w16_600it_embedded.py')
NUM_IMAGES = 12
ITERS = 6


def test_two_process_deeplab_trains_on_hook_labels(trained_tiny_classifier, embedded_voc_root, tmp_path):
    _, checkpoint = trained_tiny_classifier
    with open(osp.join(embedded_voc_root, 'ImageSets', 'Segmentation', 'train.txt')) as f:
        ids = [line.strip() for line in f if line.strip()][:NUM_IMAGES]
    split = tmp_path / 'split.txt'
    split.write_text('\n'.join(ids) + '\n')
    label_dir, maps_dir, work_dir = tmp_path / 'labels', tmp_path / 'maps', tmp_path / 'work'
    options = [*(f'{loader}_dataloader.dataset.data_root={embedded_voc_root}' for loader in ('train', 'val', 'test')),
               f'train_dataloader.dataset.ann_file={split}', f'train_dataloader.dataset.mask_dir={label_dir}',
               'train_dataloader.batch_size=4',
               # a worker per rank reads ahead before the hook runs: the hook must rebuild the dataloader
               'train_dataloader.num_workers=1', 'train_dataloader.persistent_workers=True',
               f'custom_hooks.0.classifier_checkpoint={checkpoint}', f'custom_hooks.0.maps_dir={maps_dir}',
               'custom_hooks.0.refiner=crf', 'custom_hooks.0.label_generation.steps=2',
               'custom_hooks.0.label_generation.scales=[1.0,0.5]',
               f'model.backbone.init_cfg.checkpoint={checkpoint}']
    result = run_tool(['tools/dist_train.sh', DEEPLAB_CONFIG, '2', '--work-dir', str(work_dir), '--cfg-options',
                       *options, f'train_cfg.max_iters={ITERS}', f'train_cfg.val_interval={ITERS}',
                       f'param_scheduler.0.end={ITERS}', f'default_hooks.checkpoint.interval={ITERS}',
                       'default_hooks.logger.interval=2'])
    log = result.stdout + result.stderr
    assert 'Distributed training: True' in log
    assert f'pseudo labels: making {NUM_IMAGES} of {NUM_IMAGES} labels' in log and '2 process(es)' in log
    assert f'Iter(train) [{ITERS}/{ITERS}]' in log and 'mIoU' in log
    assert sorted(osp.basename(p)[:-4] for p in glob.glob(str(label_dir / '*.png'))) == sorted(ids)
    with open(label_dir / 'pseudo_label_manifest.json') as f:
        manifest = json.load(f)
    assert manifest['status'] == 'complete'
    assert manifest['settings']['class_maps']['steps'] == 2 and manifest['settings']['refiner']['type'] == 'crf'
    assert osp.isfile(work_dir / f'iter_{ITERS}.pth')
    assert len(glob.glob(str(work_dir / 'iter_*.pth'))) == 1  # written by rank 0 only

    tested = run_tool(['tools/test.py', DEEPLAB_CONFIG, str(work_dir / f'iter_{ITERS}.pth'), '--tta',
                       '--work-dir', str(tmp_path / 'test'), '--cfg-options', *options,
                       'model.test_cfg.crf.enabled=True'])
    metrics = glob.glob(str(tmp_path / 'test' / '*' / '*.json'))
    assert metrics, tested.stdout[-2000:]
    with open(metrics[0]) as f:
        assert 0 <= json.load(f)['mIoU'] <= 100
