"""The whole AdvCAM recipe in one resumable command: classifier -> AdvCAM -> IRN -> masks -> DeepLab-v2 -> test.

    python tools/pipeline.py --preset embedded                       # the embedded dataset, CPU
    python tools/pipeline.py --preset voc --num-procs 8               # PASCAL VOC 2012 on 8 GPUs
    python tools/pipeline.py --preset embedded --label-generation steps=8 \\
        --segmentor-options train_cfg.max_iters=100 param_scheduler.0.end=100 train_cfg.val_interval=100

Each stage is a command of this project (printed as it runs) and is skipped
when its output exists, so a rerun continues where the last one stopped.
Outputs go below ``--work-dir``; the run ends with one table of the paper's
columns: seed, seed + CRF, pseudo mask (train) and segmentation (val) mIoU.
"""
import argparse
import os.path as osp
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

from advcam_mm.apis.advcam_pipeline import PRESETS, AdvCAMPipeline, describe, parse_options  # noqa: E402
from advcam_mm.apis.pipeline import run_stages  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument('--preset', choices=sorted(PRESETS), default='embedded', help='configs and data')
    parser.add_argument('--work-dir', help='output folder (default work_dirs/pipeline_<preset>)')
    parser.add_argument('--num-procs', type=int, default=1, help='processes (GPUs) per stage')
    parser.add_argument('--data-root', help="the VOC2012 folder (default: the preset's)")
    parser.add_argument('--classifier-config')
    parser.add_argument('--irn-config')
    parser.add_argument('--segmentor-config', help='any segmentor config with an AdvCAMPseudoLabelHook')
    parser.add_argument('--label-split', default='train_aug', help='split labelled and trained on')
    parser.add_argument('--eval-split', default='train', help='split the seeds and masks are scored on')
    parser.add_argument('--label-generation', nargs='+', metavar='KEY=VALUE',
                        help='overrides of the classifier config\'s label_generation (e.g. steps=8)')
    parser.add_argument('--classifier-options', nargs='+', default=[], metavar='KEY=VALUE')
    parser.add_argument('--irn-options', nargs='+', default=[], metavar='KEY=VALUE')
    parser.add_argument('--segmentor-options', nargs='+', default=[], metavar='KEY=VALUE')
    parser.add_argument('--no-tta', action='store_true', help='test single-scale (default: multi-scale + flip)')
    parser.add_argument('--no-crf', action='store_true', help='test without the dense CRF')
    parser.add_argument('--dry-run', action='store_true', help='print the stages and exit')
    return parser.parse_args()


def main():
    args = parse_args()
    pipeline = AdvCAMPipeline.from_preset(
        args.preset, args.work_dir or f'work_dirs/pipeline_{args.preset}', num_procs=args.num_procs,
        data_root=args.data_root, classifier_config=args.classifier_config, irn_config=args.irn_config,
        segmentor_config=args.segmentor_config, label_split=args.label_split, eval_split=args.eval_split,
        label_generation=parse_options(args.label_generation), classifier_options=args.classifier_options,
        irn_options=args.irn_options, segmentor_options=args.segmentor_options,
        test_tta=not args.no_tta, test_crf=not args.no_crf)
    stages = pipeline.stages()
    if args.dry_run:
        print(describe(stages))
        return
    run_stages(stages, cwd=REPO_ROOT)
    print(f'\nAdvCAM pipeline ({args.preset}, {pipeline.data_root}): mIoU %')
    print(pipeline.summary_table())


if __name__ == '__main__':
    main()
