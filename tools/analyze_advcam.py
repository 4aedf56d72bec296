"""The paper's Figure 6: seed mIoU and proportion of noise at every AdvCAM iteration.

    python tools/analyze_advcam.py CONFIG CHECKPOINT --data-root DIR --split train --num 100 \
        [--steps 27] [--mask-coefs 0,7] [--mask-threshs 0.5] [--step-sizes 0.08] --out-dir DIR
    torchrun --nproc_per_node N tools/analyze_advcam.py ... --num-images 100 --launcher pytorch

One climb per image and setting gives every iteration t = 1 ... steps (the
accumulated map is a prefix sum). The base setting is the config's
``label_generation`` (lambda 7, tau 0.5, xi 0.08); each comma list varies one
parameter around it (Fig. 6a/b: every lambda; 6c-e: the sweeps). Writes
``analysis.csv``, ``fig6ab.png`` (and ``fig6cde.png`` when a list has several
values) and prints a table. Per-image partial results are cached under
``OUT_DIR/partials``: a rerun (or a resumed, killed run) skips them.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))

from mmengine.config import DictAction  # noqa: E402

import advcam_mm  # noqa: E402,F401
from advcam_mm.apis.analyze_advcam import (analyze_advcam, parse_float_list,  # noqa: E402
                                           sweep_settings)
from advcam_mm.apis.eval_seeds import DEFAULT_THRESHOLDS  # noqa: E402
from advcam_mm.apis.make_cams import (build_cam_model, label_generation_settings,  # noqa: E402
                                      split_dataset)
from advcam_mm.apis.runner import init_launcher, load_config  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description='Seed mIoU and noise per AdvCAM iteration (paper Fig. 6)')
    parser.add_argument('config', help='classifier config')
    parser.add_argument('checkpoint', help='classifier checkpoint')
    parser.add_argument('--data-root', help="the VOC2012 folder (default: the config's)")
    parser.add_argument('--split', default='train', help='ImageSets/Segmentation/<split>.txt')
    parser.add_argument('--num', '--num-images', dest='num', type=int,
                        help='analyse the first N images of the split (default: all); under torchrun '
                        'write --num-images (torchrun reads --num as its own --numa-binding)')
    parser.add_argument('--out-dir', required=True, help='folder for analysis.csv, plots and partials/')
    parser.add_argument('--steps', type=int, help="iterations (default: the config's, 27)")
    parser.add_argument('--scales', help="comma list of scales (default: the config's)")
    parser.add_argument('--mask-coefs', default='0,7', help='lambda values (0: no regularisation)')
    parser.add_argument('--mask-threshs', help="mask thresholds tau (default: the config's)")
    parser.add_argument('--step-sizes', help="step sizes xi (default: the config's)")
    parser.add_argument('--thresholds', default=DEFAULT_THRESHOLDS,
                        help='background thresholds of the seed sweep: start:stop:step or a,b,c')
    parser.add_argument('--noise-threshold', type=float,
                        help="threshold of the noise curve (one of --thresholds; default: CAM's best)")
    parser.add_argument('--mask-dir', default='SegmentationClass', help='ground-truth folder under data root')
    parser.add_argument('--device', default=None, help='default: cuda:LOCAL_RANK if available, else cpu')
    parser.add_argument('--amp', choices=['bfloat16', 'float16'], help='autocast dtype for climbing')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options, launcher=args.launcher)
    if args.data_root:
        cfg.train_dataloader.dataset.data_root = args.data_root
    data_root = cfg.train_dataloader.dataset.data_root
    rank, world_size, device = init_launcher(args.launcher, args.device)
    base = label_generation_settings(cfg, method='advcam', steps=args.steps, amp=args.amp)
    if args.scales:
        base['scales'] = tuple(parse_float_list(args.scales, 'scales'))
    settings = sweep_settings(base, args.mask_coefs, args.mask_threshs, args.step_sizes)
    model = build_cam_model(cfg, args.checkpoint, device)
    dataset = split_dataset(cfg, args.split)
    preprocessor = cfg.model.data_preprocessor
    num = min(args.num or len(dataset), len(dataset))
    if rank == 0:
        print(f"analysis of {num} images of '{args.split}', {base['steps']} iterations, scales "
              f"{tuple(base['scales'])}, {len(settings)} setting(s), {world_size} process(es) -> "
              f'{args.out_dir}', flush=True)
    checkpoint = osp.abspath(args.checkpoint)
    result = analyze_advcam(model, dataset, data_root, args.out_dir, settings, base, preprocessor['mean'],
                            preprocessor['std'], dataset.metainfo['classes'], thresholds=args.thresholds,
                            mask_dir=args.mask_dir, num=args.num, noise_threshold=args.noise_threshold,
                            device=device, rank=rank, world_size=world_size,
                            run_info=dict(checkpoint=checkpoint, checkpoint_bytes=osp.getsize(checkpoint)))
    if result is None:
        return
    compute = result['compute']
    print(f"rank 0: computed {compute['written']}, skipped {compute['skipped']} cached, "
          f"{compute['seconds']:.1f}s", flush=True)
    print(result['table'])
    print(f"results written to {result['csv']} and {', '.join(result['plots'])}")


if __name__ == '__main__':
    main()
