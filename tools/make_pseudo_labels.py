"""Make the pseudo labels of a segmentation config ahead of training (its AdvCAMPseudoLabelHook, without training).

    python tools/make_pseudo_labels.py CONFIG [--cfg-options ...] [--regenerate]
    torchrun --nproc_per_node N tools/make_pseudo_labels.py CONFIG --launcher pytorch

Builds the config's training dataset and runs the config's
``AdvCAMPseudoLabelHook`` on it: exactly the files, folder, settings and
manifest that ``tools/train.py CONFIG`` would make before its first
iteration, which then finds them finished and reuses them. Useful to label
on many GPUs without holding a training job (and its collective timeout)
open, and as the "pseudo masks" stage of ``tools/pipeline.py``.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))

from mmengine.config import DictAction  # noqa: E402

import advcam_mm  # noqa: E402,F401
from advcam_mm.apis.runner import init_launcher, load_config  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description='Make a segmentation config\'s AdvCAM pseudo labels')
    parser.add_argument('config', help='segmentation config with an AdvCAMPseudoLabelHook in custom_hooks')
    parser.add_argument('--regenerate', action='store_true',
                        help='replace labels made with other settings instead of refusing them')
    parser.add_argument('--device', help="default: cuda:LOCAL_RANK if available, else cpu (or the hook's device)")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value (MMEngine syntax)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    return parser.parse_args()


def pseudo_label_hook_cfg(cfg, config_path):
    hooks = [h for h in cfg.get('custom_hooks', []) or [] if h.get('type') == 'AdvCAMPseudoLabelHook']
    if len(hooks) != 1:
        sys.exit(f'error: {config_path}: custom_hooks must hold exactly one AdvCAMPseudoLabelHook, '
                 f'found {len(hooks)}')
    return dict(hooks[0])


def main():
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options, launcher=args.launcher)
    rank, world_size, device = init_launcher(args.launcher, args.device)
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS, HOOKS
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    hook_cfg = pseudo_label_hook_cfg(cfg, args.config)
    if args.regenerate:
        hook_cfg['regenerate'] = True
    if args.device or not hook_cfg.get('device'):
        hook_cfg['device'] = device
    hook = HOOKS.build(hook_cfg)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    summary = hook.make_labels(dataset)
    if rank == 0:
        print(f"{summary['action']} {summary['num_images']} pseudo labels in {summary['label_dir']} "
              f"({summary['num_generated']} made by {world_size} process(es), {summary['seconds']:.1f}s)",
              flush=True)


if __name__ == '__main__':
    main()
