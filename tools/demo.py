"""`make demo`: the AdvCAM pipeline end to end on the embedded dataset, then its evaluation.

Stages (each skipped when its output exists, so a rerun resumes):
  1. the embedded VOC-layout dataset (tools/make_embedded_dataset.py)
  2. the multi-label CAM classifier (tools/train.py)
  3. CAM maps (train) and AdvCAM maps (train_aug) (tools/make_cams.py)
  4. seed evaluation with and without dense CRF on train (tools/eval_seeds.py)
  5. IRN: inter-pixel relation labels, IRNet, random-walk pseudo masks, mask mIoU
  6. pictures: one panel (tools/visualize_cams.py) and Fig. 6a/b (tools/analyze_advcam.py)
and prints one table: CAM vs AdvCAM seed, seed+CRF and mask mIoU.
Outputs go to work_dirs/demo/.
"""
import argparse
import json
import os.path as osp
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

from advcam_mm.apis.pipeline import Stage, run_stages  # noqa: E402

CLASSIFIER_CONFIG = 'configs/advcam/cls_tinyresnet_embedded.py'
IRN_CONFIG = 'configs/advcam/irn_tinyresnet_embedded.py'
DATA_ROOT = 'data/embedded/VOCdevkit/VOC2012'
PANEL_ID = 'train_0003'


def distributed(tool_args, num_procs):
    """``python tool ...``, or the same under torchrun with ``--launcher pytorch``."""
    if num_procs > 1:
        return ['python', '-m', 'torch.distributed.run', '--nproc_per_node', str(num_procs),
                *tool_args, '--launcher', 'pytorch']
    return ['python', *tool_args]


def touch_when_done(path):
    def touch():
        open(path, 'w').close()
    return touch


def build_stages(work_dir, num_procs):
    classifier_dir = osp.join(work_dir, 'classifier')
    checkpoint = osp.join(classifier_dir, 'epoch_15.pth')
    cam_dir, advcam_dir = osp.join(work_dir, 'cam_maps'), osp.join(work_dir, 'advcam_maps')
    ir_label_dir = osp.abspath(osp.join(work_dir, 'ir_labels'))
    irn_dir = osp.join(work_dir, 'irn')
    irn_checkpoint = osp.join(irn_dir, 'epoch_20.pth')
    mask_dir = osp.join(work_dir, 'pseudo_masks')
    stages = [
        Stage('dataset', ['python', 'tools/make_embedded_dataset.py', '--out', 'data/embedded'],
              osp.join(DATA_ROOT, 'embedded_manifest.json')),
        Stage('classifier', ['python', 'tools/train.py', CLASSIFIER_CONFIG, '--work-dir', classifier_dir],
              checkpoint),
    ]
    # CAM only where it is compared (train); AdvCAM on train_aug, which IRN trains on (train ⊂ train_aug).
    for method, maps_dir, split in (('cam', cam_dir, 'train'), ('advcam', advcam_dir, 'train_aug')):
        make_cams = ['tools/make_cams.py', CLASSIFIER_CONFIG, checkpoint, '--out-dir', maps_dir,
                     '--method', method, '--split', split]
        stages.append(Stage(f'{method} maps', distributed(make_cams, num_procs), maps_dir + '.done',
                            after=touch_when_done(maps_dir + '.done')))
        seeds_json = osp.join(work_dir, f'{method}_seeds.json')
        stages.append(Stage(f'{method} seeds', [
            'python', 'tools/eval_seeds.py', '--cam-dir', maps_dir, '--data-root', DATA_ROOT, '--split',
            'train', '--crf', '--classes', 'embedded', '--out-json', seeds_json], seeds_json))
    stages += [
        Stage('IR labels', ['python', 'tools/cams_to_ir_labels.py', '--config', IRN_CONFIG, '--cam-dir',
                            advcam_dir, '--out-dir', ir_label_dir],
              ir_label_dir + '.done', after=touch_when_done(ir_label_dir + '.done')),
        Stage('IRNet', ['python', 'tools/train.py', IRN_CONFIG, '--work-dir', irn_dir, '--cfg-options',
                        f'model.backbone.init_cfg.checkpoint={checkpoint}',
                        f'train_dataloader.dataset.mask_dir={ir_label_dir}'], irn_checkpoint),
        Stage('pseudo masks', distributed(['tools/make_sem_seg_labels.py', IRN_CONFIG, irn_checkpoint,
                                           '--cam-dir', advcam_dir, '--out-dir', mask_dir, '--split', 'train_aug',
                                           '--cfg-options', f'model.backbone.init_cfg.checkpoint={checkpoint}'],
                                          num_procs),
              mask_dir + '.done', after=touch_when_done(mask_dir + '.done')),
        Stage('mask mIoU', ['python', 'tools/eval_masks.py', '--mask-dir', mask_dir, '--data-root', DATA_ROOT,
                            '--split', 'train', '--classes', 'embedded',
                            '--out-json', osp.join(work_dir, 'masks.json')],
              osp.join(work_dir, 'masks.json')),
    ]
    panel = osp.join(work_dir, 'panels', f'{PANEL_ID}.png')
    stages.append(Stage('panel', [
        'python', 'tools/visualize_cams.py', '--cam-dir', cam_dir, '--advcam-dir', advcam_dir,
        '--data-root', DATA_ROOT, '--ids', PANEL_ID, '--pseudo-dir', mask_dir, '--seed-threshold',
        ','.join(osp.join(work_dir, f'{m}_seeds.json') for m in ('cam', 'advcam')),
        '--out-dir', osp.dirname(panel)], panel))
    analysis_dir = osp.join(work_dir, 'analysis')
    stages.append(Stage('Fig. 6 analysis', distributed([
        'tools/analyze_advcam.py', CLASSIFIER_CONFIG, checkpoint, '--data-root', DATA_ROOT, '--split',
        'train', '--num-images', '20', '--mask-coefs', '0,7', '--out-dir', analysis_dir], num_procs),
        osp.join(analysis_dir, 'fig6ab.png')))
    return stages


def print_summary(work_dir):
    def load(name):
        with open(osp.join(work_dir, name)) as f:
            return json.load(f)

    seeds = {method: load(f'{method}_seeds.json') for method in ('cam', 'advcam')}
    masks = load('masks.json')
    print('\nAdvCAM on the embedded dataset, train split (mIoU %):')
    print(f'{"method":<8} {"bg thr":>6} {"Seed":>7} {"+CRF":>7} {"Mask":>7}')
    for method, label in (('cam', 'CAM'), ('advcam', 'AdvCAM')):
        r = seeds[method]
        mask = f'{100 * masks["miou"]:7.2f}' if method == 'advcam' else f'{"-":>7}'
        print(f'{label:<8} {r["best_threshold"]:6.2f} {100 * r["miou"]:7.2f} {100 * r["crf_miou"]:7.2f} {mask}')
    gain = 100 * (seeds['advcam']['miou'] - seeds['cam']['miou'])
    print(f'AdvCAM - CAM seed: {gain:+.2f} mIoU (paper, VOC 2012 train: CAM 48.8, AdvCAM 55.6 / '
          '62.1 +CRF / 69.9 mask)')
    print(f'pictures: {work_dir}/panels/{PANEL_ID}.png, {work_dir}/analysis/fig6ab.png')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--num-procs', type=int, default=1, help='processes for map and mask generation')
    args = parser.parse_args()
    run_stages(build_stages(args.work_dir, args.num_procs), cwd=REPO_ROOT)
    print_summary(args.work_dir)


if __name__ == '__main__':
    main()
