"""Make pseudo masks: IRNet's boundary map + random walk of the class maps, one PNG per image.

    python tools/make_sem_seg_labels.py CONFIG CHECKPOINT --cam-dir DIR --out-dir DIR [--split train_aug]
    torchrun --nproc_per_node N tools/make_sem_seg_labels.py ... --launcher pytorch

CONFIG is the IRNet config (model, normalisation, data root). The walk's
settings come from the config's ``random_walk`` dict when it has one, else
AdvCAM's defaults (beta 10, exp_times 8, sem_seg_bg_thres 0.25, radius 5,
maps ** 1.5); the options below override them. A rerun skips finished images.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))

from mmengine.config import DictAction  # noqa: E402

import advcam_mm  # noqa: E402,F401
from advcam_mm.apis.eval_seeds import read_image_ids  # noqa: E402
from advcam_mm.apis.runner import init_launcher, load_config  # noqa: E402
from advcam_mm.apis.sem_seg_labels import (build_irnet, make_sem_seg_labels,  # noqa: E402
                                           random_walk_settings)


def parse_args():
    parser = argparse.ArgumentParser(description='Random walk pseudo masks from class maps and IRNet')
    parser.add_argument('config', help='IRNet config')
    parser.add_argument('checkpoint', help='IRNet checkpoint')
    parser.add_argument('--cam-dir', required=True, help='folder of <image_id>.npy class-map files')
    parser.add_argument('--out-dir', required=True, help='folder for <image_id>.png pseudo masks')
    parser.add_argument('--split', default='train_aug', help='ImageSets/Segmentation/<split>.txt')
    parser.add_argument('--data-root', help="the VOC2012 folder (default: the config's)")
    parser.add_argument('--beta', type=float, help='affinity exponent (10)')
    parser.add_argument('--exp-times', type=int, help='2 ** exp_times walk steps (8)')
    parser.add_argument('--sem-seg-bg-thres', type=float, help='background score after the walk (0.25)')
    parser.add_argument('--device', default=None, help='default: cuda:LOCAL_RANK if available, else cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options, launcher=args.launcher)
    rank, world_size, device = init_launcher(args.launcher, args.device)
    settings = random_walk_settings(cfg, beta=args.beta, exp_times=args.exp_times,
                                    sem_seg_bg_thres=args.sem_seg_bg_thres)
    data_root = args.data_root or cfg.train_dataloader.dataset.data_root
    image_ids = read_image_ids(data_root, args.split)
    model = build_irnet(cfg, args.checkpoint, device)
    preprocessor = cfg.model.data_preprocessor
    if rank == 0:
        print(f"random walk on {len(image_ids)} images of '{args.split}' with {world_size} process(es), "
              f'{settings} -> {args.out_dir}', flush=True)
    result = make_sem_seg_labels(model, image_ids, osp.join(data_root, 'JPEGImages'), args.cam_dir, args.out_dir,
                                 settings, preprocessor['mean'], preprocessor['std'], device=device,
                                 rank=rank, world_size=world_size)
    print(f"rank {rank}: wrote {result['written']}, skipped {result['skipped']} finished, "
          f"{result['seconds']:.1f}s", flush=True)


if __name__ == '__main__':
    main()
