"""`make demo`: the whole AdvCAM recipe on the embedded dataset, on CPU, then one table.

The stages of ``tools/pipeline.py --preset embedded`` (classifier -> AdvCAM maps
-> seeds (+CRF) -> IR labels -> IRNet -> pseudo masks -> DeepLab-v2 -> test),
plus, for the paper's comparisons and pictures:
  * CAM maps and their seeds (the "CAM" row next to AdvCAM),
  * CCT trained on the pixel-labelled `train` split plus the pseudo-labelled rest,
  * one panel (tools/visualize_cams.py) and Fig. 6a/b (tools/analyze_advcam.py).
Each stage is one of the project's command lines, printed as it runs, and is
skipped when its output exists, so a rerun resumes. Outputs: work_dirs/demo/.
"""
import argparse
import os.path as osp
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

from advcam_mm.apis.advcam_pipeline import AdvCAMPipeline, collect_test_metrics  # noqa: E402
from advcam_mm.apis.pipeline import Stage, run_stages, touch_when_done  # noqa: E402

CCT_CONFIG = 'configs/advcam/cct_tinyresnet_embedded_semi.py'
PANEL_ID = 'train_0003'


def comparison_stages(pipe: AdvCAMPipeline):
    """CAM maps of the evaluation split and their seeds, scored as AdvCAM's are."""
    cam_dir = pipe.path('cam_maps')
    return [
        Stage('cam maps', pipe._distributed('tools/make_cams.py', [
            pipe.classifier_config, pipe.classifier_checkpoint, '--out-dir', cam_dir, '--method', 'cam',
            '--split', pipe.eval_split]), cam_dir + '.done', after=touch_when_done(cam_dir + '.done')),
        Stage('cam seed evaluation', [
            'python', 'tools/eval_seeds.py', '--cam-dir', cam_dir, '--data-root', pipe.data_root, '--split',
            pipe.eval_split, '--crf', '--classes', pipe.classes, '--out-json', pipe.path('cam_seeds.json')],
            pipe.path('cam_seeds.json')),
    ]


def cct_stages(pipe: AdvCAMPipeline):
    """CCT on `train` (ground truth) + `train_aug` minus `train` (the pipeline's pseudo masks)."""
    work_dir, test_dir = pipe.path('cct'), pipe.path('cct_test')
    checkpoint = osp.join(work_dir, 'iter_200.pth')
    options = [f'train_dataloader.dataset.{part}.data_root={pipe.data_root}' for part in ('labelled', 'weak')]
    options += [f'{loader}_dataloader.dataset.data_root={pipe.data_root}' for loader in ('val', 'test')]
    options += [f'train_dataloader.dataset.weak.mask_dir={pipe.path("pseudo_masks")}',
                f'model.backbone.init_cfg.checkpoint={pipe.classifier_checkpoint}']
    result = pipe.path('cct_segmentation.json')
    return [
        Stage('CCT', pipe._train(CCT_CONFIG, work_dir, options), checkpoint, env=pipe._env()),
        Stage('CCT test', ['python', 'tools/test.py', CCT_CONFIG, checkpoint, '--work-dir', test_dir,
                           '--cfg-options', *options], result,
              after=lambda: collect_test_metrics(test_dir, result, dict(tta=False, crf=False,
                                                                        checkpoint=checkpoint))),
    ]


def picture_stages(pipe: AdvCAMPipeline):
    panel = pipe.path('panels', f'{PANEL_ID}.png')
    analysis_dir = pipe.path('analysis')
    return [
        Stage('panel', [
            'python', 'tools/visualize_cams.py', '--cam-dir', pipe.path('cam_maps'), '--advcam-dir',
            pipe.path('advcam_maps'), '--data-root', pipe.data_root, '--ids', PANEL_ID, '--pseudo-dir',
            pipe.path('pseudo_masks'), '--seed-threshold',
            f'{pipe.path("cam_seeds.json")},{pipe.path("seeds.json")}', '--out-dir', osp.dirname(panel)], panel),
        Stage('Fig. 6 analysis', pipe._distributed('tools/analyze_advcam.py', [
            pipe.classifier_config, pipe.classifier_checkpoint, '--data-root', pipe.data_root, '--split',
            pipe.eval_split, '--num-images', '20', '--mask-coefs', '0,7', '--out-dir', analysis_dir]),
            osp.join(analysis_dir, 'fig6ab.png')),
    ]


def build_stages(pipe: AdvCAMPipeline):
    stages = pipe.stages()
    after_seeds = [s.name for s in stages].index('seed evaluation') + 1
    stages[after_seeds:after_seeds] = comparison_stages(pipe)
    return stages + cct_stages(pipe) + picture_stages(pipe)


def print_summary(pipe: AdvCAMPipeline):
    import json

    def read(name):
        with open(pipe.path(name)) as f:
            return json.load(f)

    cam, cct = read('cam_seeds.json'), read('cct_segmentation.json')
    print('\nAdvCAM on the embedded dataset (mIoU %):')
    print(f'CAM seed (bg {cam["best_threshold"]:.2f}) {pipe.eval_split}: {100 * cam["miou"]:.2f}, '
          f'+ CRF: {100 * cam["crf_miou"]:.2f}')
    print(pipe.summary_table())
    print(f'CCT (60 pixel-labelled + 100 pseudo-labelled), val: {cct["mIoU"]:.2f}')
    print('paper, VOC 2012: CAM seed 48.8; AdvCAM seed 55.6, +CRF 62.1, mask 69.9; DeepLab-v2 val 68.1; '
          'CCT val 77.8')
    print(f'pictures: {pipe.path("panels", PANEL_ID + ".png")}, {pipe.path("analysis", "fig6ab.png")}')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--num-procs', type=int, default=1, help='processes per stage')
    args = parser.parse_args()
    pipe = AdvCAMPipeline.from_preset('embedded', args.work_dir, num_procs=args.num_procs)
    run_stages(build_stages(pipe), cwd=REPO_ROOT)
    print_summary(pipe)


if __name__ == '__main__':
    main()
