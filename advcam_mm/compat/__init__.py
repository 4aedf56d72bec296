"""The small compatibility layer between this plugin and its pinned dependencies.

* :mod:`.mmcv_ops` - pure-PyTorch stand-ins for the few ``mmcv.ops`` that
  mmseg 1.2.2 imports at module level, installed only when mmcv's compiled
  ops (``mmcv._ext``) are absent, i.e. with ``mmcv-lite``.
* :mod:`.checkpoint_loading` - the allow-list that lets ``torch.load`` with
  ``weights_only=True`` (torch >= 2.6 default) read mmengine checkpoints.
* :mod:`.distributed` - the CPU (gloo) path of mmengine's pytorch launcher
  and DDP wrapper, which in mmengine 0.10.7 assume a GPU.
"""
from .checkpoint_loading import allow_mmengine_checkpoint_globals
from .distributed import patch_mmengine_for_cpu_distributed
from .mmcv_ops import install_mmcv_ops_fallback, mmcv_compiled_ops_available


def apply_all():
    """Apply every shim; each one is idempotent and a no-op where not needed."""
    install_mmcv_ops_fallback()
    allow_mmengine_checkpoint_globals()
    patch_mmengine_for_cpu_distributed()


__all__ = ['apply_all', 'install_mmcv_ops_fallback', 'mmcv_compiled_ops_available',
           'allow_mmengine_checkpoint_globals', 'patch_mmengine_for_cpu_distributed']
