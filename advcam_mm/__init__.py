"""advcam_mm: AdvCAM (Lee, Kim, Yoon, CVPR 2021) as an MMSegmentation 1.x plugin.

Importing the package applies the small compatibility layer
(:mod:`advcam_mm.compat`) and registers every component into the mmseg
registries, so configs use ``custom_imports=dict(imports=['advcam_mm'])``.
"""
from . import compat

compat.apply_all()

from . import datasets, evaluation, hooks, models  # noqa: E402,F401  (registration)

__version__ = '0.1.0'
