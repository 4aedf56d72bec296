"""Make CAM or AdvCAM class maps for a split: one IRN-format .npy per image.

    python tools/make_cams.py CONFIG CHECKPOINT --out-dir DIR [--method cam|advcam] [--split train]
    torchrun --nproc_per_node N tools/make_cams.py ... --launcher pytorch

Defaults come from the config's ``label_generation`` dict (AdvCAM's: scales
1.0/0.5/1.5/2.0 + flip, 27 steps, step 0.08, mask threshold 0.5, lambda 7);
``--cfg-options label_generation.steps=10`` overrides them. A rerun skips
finished images.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))

from mmengine.config import DictAction  # noqa: E402

import advcam_mm  # noqa: E402,F401
from advcam_mm.apis.make_cams import (build_cam_model, generate_class_maps,  # noqa: E402
                                      label_generation_settings, split_dataset)
from advcam_mm.apis.runner import init_launcher, load_config  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description='Make CAM / AdvCAM maps for a dataset split')
    parser.add_argument('config', help='classifier config')
    parser.add_argument('checkpoint', help='classifier checkpoint')
    parser.add_argument('--out-dir', required=True, help='folder for <image_id>.npy files')
    parser.add_argument('--method', choices=['cam', 'advcam'], help='default: the config\'s')
    parser.add_argument('--split', default='train', help='ImageSets/Segmentation/<split>.txt')
    parser.add_argument('--device', default=None, help="default: cuda:LOCAL_RANK if available, else cpu")
    parser.add_argument('--amp', choices=['bfloat16', 'float16'], help='autocast dtype for climbing')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options, launcher=args.launcher)
    rank, world_size, device = init_launcher(args.launcher, args.device)
    settings = label_generation_settings(cfg, method=args.method, amp=args.amp)
    model = build_cam_model(cfg, args.checkpoint, device)
    dataset = split_dataset(cfg, args.split)
    preprocessor = cfg.model.data_preprocessor
    if rank == 0:
        print(f"{settings['method']} on {len(dataset)} images of '{args.split}' with {world_size} "
              f'process(es) -> {args.out_dir}', flush=True)
    result = generate_class_maps(model, dataset, args.out_dir, settings, preprocessor['mean'],
                                 preprocessor['std'], device=device, rank=rank, world_size=world_size)
    print(f"rank {rank}: wrote {result['written']}, skipped {result['skipped']} finished, "
          f"{result['seconds']:.1f}s", flush=True)


if __name__ == '__main__':
    main()
