"""Test-only hook: every rank saves its model parameters after training (to compare DDP ranks)."""
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmseg.registry import HOOKS


@HOOKS.register_module()
class DumpRankParametersHook(Hook):
    """Saves ``rank<r>_initial.pth`` before training and ``rank<r>_params.pth`` after it."""

    @staticmethod
    def _dump(runner, name):
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        params = {key: p.detach().cpu().clone() for key, p in model.named_parameters()}
        torch.save(params, osp.join(runner.work_dir, f'rank{get_rank()}_{name}.pth'))

    def before_train(self, runner):
        self._dump(runner, 'initial')

    def after_train(self, runner):
        self._dump(runner, 'params')
