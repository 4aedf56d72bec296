"""CPU path for mmengine 0.10.7's pytorch launcher and DDP wrapper.

mmengine 0.10.7 assumes a GPU in two places: ``_init_dist_pytorch`` calls
``torch.cuda.set_device(local_rank)`` before ``init_process_group``, and the
Runner wraps the model with ``device_ids=[LOCAL_RANK]``. Both fail on a CPU-only
machine. When CUDA is unavailable this module makes the launcher skip
``set_device`` and use the ``gloo`` backend, and makes the DDP wrapper pass
``device_ids=None`` for a model whose parameters live on the CPU. With a GPU
both functions behave exactly as before (the original is called unchanged).
"""
import functools

import torch

_PATCHED_MARK = '__advcam_cpu_patched__'


def _cpu_init_dist_pytorch(original):
    @functools.wraps(original)
    def init_dist_pytorch(backend='nccl', init_backend='torch', **kwargs):
        if torch.cuda.is_available():
            return original(backend, init_backend=init_backend, **kwargs)
        import torch.distributed as torch_dist
        if backend == 'nccl':
            backend = 'gloo'
        if init_backend != 'torch':
            raise RuntimeError(f"init_backend='{init_backend}' needs a GPU; on CPU use 'torch'")
        torch_dist.init_process_group(backend=backend, **kwargs)

    setattr(init_dist_pytorch, _PATCHED_MARK, True)
    return init_dist_pytorch


def _cpu_ddp_init(original):
    @functools.wraps(original)
    def __init__(self, module, *args, **kwargs):
        on_cpu = all(not p.is_cuda for p in module.parameters())
        if on_cpu and kwargs.get('device_ids') is not None:
            kwargs['device_ids'] = None
        return original(self, module, *args, **kwargs)

    setattr(__init__, _PATCHED_MARK, True)
    return __init__


def patch_mmengine_for_cpu_distributed() -> None:
    """Patch mmengine's launcher and DDP wrapper for CPU (gloo) training. Idempotent."""
    from mmengine.dist import utils as dist_utils
    from mmengine.model.wrappers import distributed as wrappers

    if not getattr(dist_utils._init_dist_pytorch, _PATCHED_MARK, False):
        dist_utils._init_dist_pytorch = _cpu_init_dist_pytorch(dist_utils._init_dist_pytorch)
    ddp_class = wrappers.MMDistributedDataParallel
    if not getattr(ddp_class.__init__, _PATCHED_MARK, False):
        ddp_class.__init__ = _cpu_ddp_init(ddp_class.__init__)
