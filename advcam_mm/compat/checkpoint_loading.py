"""Let ``torch.load(weights_only=True)`` read mmengine checkpoints.

Since torch 2.6 ``torch.load`` defaults to ``weights_only=True``, which refuses
any global not on its allow-list. mmengine 0.10.7 checkpoints pickle a
``HistoryBuffer`` per logged scalar (``message_hub``) and numpy arrays and
scalars inside it, so ``--resume`` fails. This module allow-lists exactly those
classes; everything else (a pickle naming ``os.system``, say) is still refused.
Nothing here ever calls ``torch.load(weights_only=False)``.

The buffers also pickle their statistics methods as ``getattr(HistoryBuffer,
'min')`` (protocol 2). Allow-listing the builtin ``getattr`` would let a
pickle read any attribute of any allowed object, so the name
``builtins.getattr`` is bound to :func:`history_buffer_getattr`, which
answers only those lookups.
"""
import pickle

import numpy as np
import torch


def history_buffer_getattr(owner, name):
    """``getattr`` restricted to ``HistoryBuffer``'s public statistics methods."""
    from mmengine.logging.history_buffer import HistoryBuffer
    if owner is HistoryBuffer and not name.startswith('_') and name in vars(HistoryBuffer):
        return getattr(owner, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({owner!r}, {name!r}): only HistoryBuffer methods are allowed')


def mmengine_checkpoint_globals() -> list:
    """The classes and functions an mmengine 0.10.7 checkpoint pickles."""
    from mmengine.logging.history_buffer import HistoryBuffer
    numpy_core = getattr(np, '_core', None) or np.core
    reconstruct = numpy_core.multiarray._reconstruct
    scalar = numpy_core.multiarray.scalar
    dtype_classes = [type(np.dtype(name)) for name in (
        'float16', 'float32', 'float64', 'int8', 'int16', 'int32', 'int64', 'uint8', 'bool')]
    return [HistoryBuffer, reconstruct, scalar, np.ndarray, np.dtype, *dtype_classes,
            (history_buffer_getattr, 'builtins.getattr')]


def allow_mmengine_checkpoint_globals() -> None:
    """Add :func:`mmengine_checkpoint_globals` to torch's safe globals (idempotent)."""
    add_safe_globals = getattr(torch.serialization, 'add_safe_globals', None)
    if add_safe_globals is None:  # torch < 2.4 loads everything; nothing to do
        return
    add_safe_globals(mmengine_checkpoint_globals())
