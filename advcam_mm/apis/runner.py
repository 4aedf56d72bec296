"""Config loading and Runner building shared by ``tools/train.py`` and ``tools/test.py``.

Thin over MMEngine: what it adds is an error that names the config file when
the config is missing, cannot be parsed or names an unregistered type.
"""
import logging
import os
import os.path as osp

from mmengine.config import Config
from mmengine.logging import print_log


class ConfigError(RuntimeError):
    """A config that cannot be loaded or built; the message names the file."""


def load_config(config_path, cfg_options=None, work_dir=None, launcher='none'):
    """Read ``config_path``, apply ``--cfg-options`` and the work dir rule of MMSeg's tools."""
    if not osp.isfile(config_path):
        raise ConfigError(f'{config_path}: config file not found')
    try:
        cfg = Config.fromfile(config_path)
    except Exception as error:  # noqa: BLE001 - re-raised with the file named
        raise ConfigError(f'{config_path}: cannot load config: {error}') from error
    cfg.launcher = launcher
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(config_path))[0])
    return cfg


def enable_amp(cfg):
    """Switch ``OptimWrapper`` to ``AmpOptimWrapper`` (dynamic loss scale), as MMSeg's ``--amp``."""
    wrapper_type = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if wrapper_type == 'AmpOptimWrapper':
        print_log('AMP training is already enabled in the config.', logger='current',
                  level=logging.WARNING)
        return
    if wrapper_type != 'OptimWrapper':
        raise ConfigError(f'--amp needs optim_wrapper.type OptimWrapper, got {wrapper_type}')
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    cfg.optim_wrapper.loss_scale = 'dynamic'


def build_runner(cfg, config_path):
    """Build the Runner; an unknown type or bad argument is reported with the config's name."""
    from mmengine.runner import Runner
    from mmseg.registry import RUNNERS
    try:
        if 'runner_type' in cfg:
            return RUNNERS.build(cfg)
        return Runner.from_cfg(cfg)
    except KeyError as error:
        raise ConfigError(f'{config_path}: {error.args[0] if error.args else error}') from error


def set_local_rank_env(local_rank):
    """``torch.distributed.launch`` passes ``--local-rank``; torchrun sets ``LOCAL_RANK``."""
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(local_rank)


def init_launcher(launcher='none', device=None):
    """Start the process group for a per-image tool; return ``(rank, world_size, device)``.

    ``launcher='pytorch'`` under torchrun: NCCL on GPUs, gloo on CPU. The device
    is ``cuda:LOCAL_RANK`` when CUDA is available, else the CPU, where each of
    ``world_size`` processes gets its share of the cores.
    """
    import torch
    from mmengine.dist import get_dist_info, init_dist
    if launcher != 'none':
        init_dist(launcher, backend='nccl' if torch.cuda.is_available() else 'gloo')
    rank, world_size = get_dist_info()
    local_rank = int(os.environ.get('LOCAL_RANK', 0))
    device = device or (f'cuda:{local_rank}' if torch.cuda.is_available() else 'cpu')
    if str(device) == 'cpu' and world_size > 1:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // world_size))
    return rank, world_size, device


def settings_from_config(cfg, key, defaults, **overrides) -> dict:
    """``defaults``, then the config's ``key`` dict, then explicit (non-None) overrides.

    One rule for every stage's parameters (``label_generation``, ``ir_labels``,
    ``random_walk``), so the config stays their one source; an unknown name is
    refused instead of silently ignored.
    """
    settings = dict(defaults)
    if cfg is not None:
        settings.update(dict(cfg.get(key, {}) or {}))
    settings.update({k: v for k, v in overrides.items() if v is not None})
    unknown = set(settings) - set(defaults)
    if unknown:
        raise ValueError(f'unknown {key} settings {sorted(unknown)}; known: {sorted(defaults)}')
    return settings


def build_inference_model(cfg, checkpoint, device='cpu', what='model', required=()):
    """Build ``cfg.model``, load ``checkpoint`` and return it on ``device`` in eval mode.

    The backbone's ``init_cfg`` is dropped (the checkpoint holds the trained
    weights, so no ImageNet download); ``required`` names the methods the
    caller needs, checked with an error that says what the model lacks.
    """
    import copy

    from mmengine.registry import init_default_scope
    from mmengine.runner import load_checkpoint
    from mmseg.registry import MODELS
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.get('backbone', {}).pop('init_cfg', None)
    model = MODELS.build(model_cfg)
    missing = [name for name in required if not hasattr(model, name)]
    if missing:
        raise TypeError(f'{type(model).__name__} is not a usable {what}: it lacks {", ".join(missing)}')
    if checkpoint is not None:
        if not os.path.isfile(checkpoint):
            raise FileNotFoundError(f'{checkpoint}: {what} checkpoint not found (train it with tools/train.py)')
        load_checkpoint(model, checkpoint, map_location='cpu', logger='silent')
    return model.to(device).eval()
