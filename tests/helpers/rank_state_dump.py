"""Test-only hook: every rank saves its model parameters after training (to compare DDP ranks)."""
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmseg.registry import HOOKS


@HOOKS.register_module()
class DumpRankParametersHook(Hook):

    def after_train(self, runner):
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        params = {name: p.detach().cpu().clone() for name, p in model.named_parameters()}
        torch.save(params, osp.join(runner.work_dir, f'rank{get_rank()}_params.pth'))
