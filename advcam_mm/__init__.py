"""advcam_mm: AdvCAM (Lee, Kim, Yoon, CVPR 2021) as an MMSegmentation 1.x plugin.

Importing the package applies the small compatibility layer
(:mod:`advcam_mm.compat`) and registers every component into the mmseg
registries, so configs use ``custom_imports=dict(imports=['advcam_mm'])``.
The framework-free core (:mod:`advcam_mm.core`) needs only PyTorch: where
MMSegmentation is not installed (a bare GPU box running a benchmark, say),
``import advcam_mm.core.advcam`` still works and nothing is registered.
"""
import importlib.util

__version__ = '0.1.0'



def _importable(name):
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


MMSEG_AVAILABLE = all(_importable(name) for name in ('mmengine', 'mmcv', 'mmseg'))

if MMSEG_AVAILABLE:
    from . import compat

    compat.apply_all()

    from . import datasets, evaluation, hooks, models  # noqa: E402,F401  (registration)
