"""Train any advcam_mm / MMSeg model from a config (MMSeg's tools/train.py interface)."""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))

from mmengine.config import DictAction  # noqa: E402

import advcam_mm  # noqa: E402,F401  (compat shims + registration before the Runner exists)
from advcam_mm.apis.runner import (build_runner, enable_amp, load_config,  # noqa: E402
                                   set_local_rank_env)


def parse_args():
    parser = argparse.ArgumentParser(description='Train a model from a config')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--resume', action='store_true',
                        help='resume from the latest checkpoint in the work dir')
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision (GPU)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value (MMEngine syntax)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser.parse_args()


def main():
    args = parse_args()
    set_local_rank_env(args.local_rank)
    cfg = load_config(args.config, args.cfg_options, args.work_dir, args.launcher)
    if args.amp:
        enable_amp(cfg)
    cfg.resume = args.resume
    build_runner(cfg, args.config).train()


if __name__ == '__main__':
    main()
