"""Test-only hook: what each DDP rank holds and does (to compare ranks and to see which rank saves)."""
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmseg.registry import HOOKS


@HOOKS.register_module()
class DumpRankParametersHook(Hook):
    """Saves ``rank<r>_initial.pth`` before training and ``rank<r>_params.pth`` after it; every rank that
    runs the Runner's checkpoint saving appends the epoch and iteration to ``saved_by_rank<r>.txt``."""

    @staticmethod
    def _dump(runner, name):
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        params = {key: p.detach().cpu().clone() for key, p in model.named_parameters()}
        torch.save(params, osp.join(runner.work_dir, f'rank{get_rank()}_{name}.pth'))

    def before_train(self, runner):
        self._dump(runner, 'initial')

    def after_train(self, runner):
        self._dump(runner, 'params')

    def before_save_checkpoint(self, runner, checkpoint):
        with open(osp.join(runner.work_dir, f'saved_by_rank{get_rank()}.txt'), 'a') as f:
            f.write(f'epoch {runner.epoch} iter {runner.iter}\n')
