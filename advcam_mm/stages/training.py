"""Stage: train a config's model with MMEngine's Runner (classifier, IRNet, segmentor, CCT).

Reads     the config; the label folders its training data reads (``mask_dir`` of every
          training dataset: IR labels, pseudo masks, with their manifests; ground truth
          without one) and the checkpoints it starts from (``init_cfg`` files, ``load_from``).
Writes    the work dir: MMEngine's checkpoints and logs, and the manifest, whose
          ``outputs.checkpoint`` names the final checkpoint (what later stages read).
Settings  ``model``, ``train_dataloader`` (without its worker settings), ``optim_wrapper``,
          ``param_scheduler``, ``train_cfg``, ``randomness``, ``custom_hooks`` and the
          number of processes (the per-process batch is the config's).

A rerun with the same settings skips a finished work dir and resumes an
interrupted one from its last checkpoint; other settings are refused unless
``--regenerate`` (which removes the work dir's checkpoints first). The manifest
is written in ``before_train`` after the pseudo-label hook has made the masks
it reads, and completed in ``after_train``::

    python tools/train.py CONFIG [--work-dir DIR] [--regenerate]
    bash tools/dist_train.sh CONFIG N_GPUS
"""
import argparse
import os
import os.path as osp

from mmengine.hooks import Hook

from ..fileio.manifest import file_input, folder_input
from .output_folder import OutputFolder
from .runner import build_runner, enable_amp, load_config, set_local_rank_env

STAGE = 'training'
TRAINING_KEYS = ('model', 'train_dataloader', 'optim_wrapper', 'param_scheduler', 'train_cfg', 'randomness',
                 'custom_hooks')
#: Entries of a dataloader that change only the speed.
LOADER_SPEED_KEYS = ('num_workers', 'persistent_workers', 'pin_memory', 'prefetch_factor')
CHECKPOINT_PATTERNS = ('*.pth', 'last_checkpoint')


def training_settings(cfg, world_size: int) -> dict:
    settings = {key: cfg.get(key) for key in TRAINING_KEYS}
    settings['train_dataloader'] = {k: v for k, v in dict(settings['train_dataloader'] or {}).items()
                                    if k not in LOADER_SPEED_KEYS}
    settings['custom_hooks'] = list(settings['custom_hooks'] or [])  # run() sets [] where the config has none
    return dict(settings, world_size=world_size)


def _dataset_mask_dirs(dataset_cfg):
    """Every ``mask_dir`` of a training dataset config (wrappers such as the semi-supervised one included)."""
    found = []
    if isinstance(dataset_cfg, dict):
        mask_dir = dataset_cfg.get('mask_dir')
        if mask_dir:
            data_root = dataset_cfg.get('data_root') or ''
            found.append(mask_dir if osp.isabs(mask_dir) else osp.join(data_root, mask_dir))
        for value in dataset_cfg.values():
            found.extend(_dataset_mask_dirs(value))
    elif isinstance(dataset_cfg, (list, tuple)):
        for value in dataset_cfg:
            found.extend(_dataset_mask_dirs(value))
    return found


def _init_checkpoints(value, prefix='model'):
    """``(name, path)`` of every local ``init_cfg`` checkpoint file in the model config."""
    found = []
    if isinstance(value, dict):
        init_cfg = value.get('init_cfg')
        if isinstance(init_cfg, dict) and isinstance(init_cfg.get('checkpoint'), str) \
                and osp.isfile(init_cfg['checkpoint']):
            found.append((f'{prefix}.init_cfg', init_cfg['checkpoint']))
        for key, item in value.items():
            if key != 'init_cfg':
                found.extend(_init_checkpoints(item, f'{prefix}.{key}'))
    return found


def training_inputs(cfg) -> dict:
    inputs = {}
    for index, mask_dir in enumerate(_dataset_mask_dirs(cfg.train_dataloader.get('dataset'))):
        inputs[f'masks_{index}'] = folder_input(mask_dir, required=False)
    for name, path in _init_checkpoints(cfg.model):
        inputs[name] = file_input(path)
    if cfg.get('load_from'):
        inputs['load_from'] = file_input(cfg.load_from)
    return inputs


def work_dir_folder(cfg, world_size: int) -> OutputFolder:
    return OutputFolder(cfg.work_dir, STAGE, training_settings(cfg, world_size), training_inputs(cfg),
                        patterns=CHECKPOINT_PATTERNS)


def final_checkpoint(work_dir: str) -> str:
    """The checkpoint a finished run left (MMEngine's ``last_checkpoint`` record)."""
    record = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(record):
        raise FileNotFoundError(f'{work_dir}: no last_checkpoint: the run saved no checkpoint')
    with open(record) as f:
        path = f.read().strip()
    return path if osp.isabs(path) else osp.join(work_dir, path)


def resolve_checkpoint(path: str) -> str:
    """A checkpoint file as given, or the final checkpoint of the finished training work dir ``path``."""
    return checkpoint_of(path) if osp.isdir(path) else path


def checkpoint_of(work_dir: str) -> str:
    """The final checkpoint of a finished training stage, from its manifest."""
    from ..fileio.manifest import read_manifest
    manifest = read_manifest(work_dir)
    if manifest is None or manifest['status'] != 'complete':
        raise FileNotFoundError(f'{work_dir}: no finished training run (no complete stage manifest)')
    return osp.join(work_dir, manifest['outputs']['checkpoint'])


class StageManifestHook(Hook):
    """Writes the training stage's manifest: incomplete after the pseudo-label hook, complete at the end."""

    priority = 'LOWEST'

    def __init__(self, world_size: int):
        self.world_size = world_size

    def before_train(self, runner) -> None:
        if runner.rank == 0:
            work_dir_folder(runner.cfg, self.world_size).start('resume')

    def after_train(self, runner) -> None:
        if runner.rank == 0:
            checkpoint = final_checkpoint(runner.work_dir)
            work_dir_folder(runner.cfg, self.world_size).complete(
                checkpoint=osp.relpath(checkpoint, runner.work_dir), checkpoint_sha256=file_input(checkpoint)['sha256'])


def _world_size(launcher: str) -> int:
    return int(os.environ.get('WORLD_SIZE', 1)) if launcher != 'none' else 1


def run(config, work_dir=None, cfg_options=None, launcher='none', resume=False, amp=False, regenerate=False):
    """Train (or skip, resume, refuse; see the module docstring); return the final checkpoint's path."""
    from .distributed import decide_on_rank_zero
    cfg = load_config(config, cfg_options, work_dir, launcher)
    if amp:
        enable_amp(cfg)
    world_size = _world_size(launcher)
    if launcher != 'none':
        from mmengine.dist import init_dist, is_distributed
        if not is_distributed():
            init_dist(launcher, **dict(cfg.get('env_cfg', {}).get('dist_cfg', {})))
    folder = work_dir_folder(cfg, world_size)

    def plan():
        decision = folder.plan(regenerate)
        if decision == 'regenerate':
            folder.start('regenerate')
        return decision
    decision = decide_on_rank_zero(plan)
    if decision == 'reuse':
        checkpoint = checkpoint_of(cfg.work_dir)
        print(f'{cfg.work_dir}: finished with the same settings; {checkpoint} kept (--regenerate retrains)',
              flush=True)
        return checkpoint
    cfg.resume = bool(resume) or (decision == 'resume' and osp.isfile(osp.join(cfg.work_dir, 'last_checkpoint')))
    cfg.custom_hooks = list(cfg.get('custom_hooks', []) or [])
    runner = build_runner(cfg, config)
    runner.register_hook(StageManifestHook(world_size))
    runner.train()
    return final_checkpoint(runner.work_dir)


def status(args) -> str:
    cfg = load_config(args.config, args.cfg_options, args.work_dir)
    folder = work_dir_folder(cfg, args.num_procs)
    return 'complete' if folder.plan(args.regenerate) == 'reuse' else 'todo'


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description='Train a model from a config')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs, models and the manifest')
    parser.add_argument('--resume', action='store_true', help='resume from the latest checkpoint in the work dir')
    parser.add_argument('--regenerate', action='store_true',
                        help='retrain a work dir that was trained with other settings')
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision (GPU)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value (MMEngine syntax)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    parser.add_argument('--num-procs', type=int, default=1, help=argparse.SUPPRESS)  # for status() only
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    set_local_rank_env(args.local_rank)
    run(args.config, args.work_dir, args.cfg_options, args.launcher, args.resume, args.amp, args.regenerate)


if __name__ == '__main__':
    main()
