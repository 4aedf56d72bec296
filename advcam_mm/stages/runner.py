"""Config loading and Runner building shared by the stages and tools.

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
