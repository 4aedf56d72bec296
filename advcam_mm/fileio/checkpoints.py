"""Model checkpoints: read safely, load strictly, write atomically.

A checkpoint whose keys do not fit the model must not load quietly: with
``strict=False`` and a silent logger, a checkpoint in the authors' layout
(``resnet50.*``) used to load only ``classifier.weight`` and leave the backbone
random. :func:`load_model_weights` refuses such a checkpoint with the missing
and unexpected keys listed (and the converter named when the keys are the
authors'); ``strict=False`` is the escape hatch that loads what fits and logs
the rest.

Reading always uses ``torch.load(weights_only=True)`` with the allow-list of
:mod:`advcam_mm.compat.checkpoint_loading` (what mmengine checkpoints pickle).
"""
import io
import logging
import os
from collections import OrderedDict
from typing import Dict, List, NamedTuple, Sequence, Tuple

import torch

from .atomic import atomic_write
from .authors_checkpoints import authors_layout_kind
from .manifest import file_sha256  # noqa: F401  (re-exported)

DDP_PREFIX = 'module.'


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read or does not fit the model; the message names the file."""


def read_checkpoint(path: str):
    """``torch.load(path, weights_only=True)`` on the CPU; any failure names the file."""
    from ..compat.checkpoint_loading import allow_mmengine_checkpoint_globals
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: checkpoint not found')
    allow_mmengine_checkpoint_globals()
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except Exception as error:  # noqa: BLE001 - re-raised with the file named
        raise CheckpointError(f'{path}: cannot be read as a checkpoint (torch.load with '
                              f'weights_only=True): {error}') from error


def _strip_prefix(state_dict, prefix):
    """Drop ``prefix`` from the keys that have it (and from the version metadata's module names)."""
    if not any(key.startswith(prefix) for key in state_dict):
        return state_dict
    stripped = OrderedDict((key[len(prefix):] if key.startswith(prefix) else key, value)
                           for key, value in state_dict.items())
    metadata = getattr(state_dict, '_metadata', None)
    if metadata is not None:
        stripped._metadata = OrderedDict(
            ('' if name == prefix[:-1] else name[len(prefix):] if name.startswith(prefix) else name, value)
            for name, value in metadata.items())
    return stripped


def read_state_dict(path: str) -> Tuple[Dict[str, torch.Tensor], dict]:
    """``(state_dict, meta)`` of a checkpoint file.

    Accepts an mmengine checkpoint (``{'state_dict': ..., 'meta': ...}``) or a
    bare state dict (what ``torch.save(model.state_dict())`` writes, as IRN
    does); a DDP/DataParallel ``module.`` prefix is removed.
    """
    checkpoint = read_checkpoint(path)
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f'{path}: expected a state dict or a dict with "state_dict", '
                              f'got {type(checkpoint).__name__}')
    meta = {}
    if 'state_dict' in checkpoint:
        state_dict, meta = checkpoint['state_dict'], checkpoint.get('meta') or {}
        if not isinstance(state_dict, dict):
            raise CheckpointError(f'{path}: "state_dict" is a {type(state_dict).__name__}, not a dict')
    elif checkpoint and all(isinstance(value, torch.Tensor) for value in checkpoint.values()):
        state_dict = checkpoint
    else:
        raise CheckpointError(f'{path}: no state dict in the checkpoint (top-level keys: '
                              f'{", ".join(map(str, list(checkpoint)[:10])) or "none"})')
    not_tensors = [key for key, value in state_dict.items() if not isinstance(value, torch.Tensor)]
    if not_tensors:
        raise CheckpointError(f'{path}: state dict entries that are not tensors: {summarize_keys(not_tensors)}')
    return _strip_prefix(state_dict, DDP_PREFIX), meta


def save_checkpoint(path: str, state_dict: Dict[str, torch.Tensor], meta: dict) -> None:
    """Write ``{'state_dict': ..., 'meta': ...}`` (mmengine's layout) atomically."""
    buffer = io.BytesIO()
    torch.save({'state_dict': OrderedDict(state_dict), 'meta': meta}, buffer)
    with atomic_write(path) as f:
        f.write(buffer.getvalue())


def summarize_keys(keys: Sequence[str], limit: int = 12) -> str:
    """Keys as a short list: all of them when few, else grouped by prefix (``backbone.layer1.* (60 keys)``).

    The deepest prefix (up to 3 names) that gives at most ``limit`` groups is
    used; a group of one key shows the key.
    """
    keys = sorted(keys)
    if len(keys) <= limit:
        return ', '.join(keys)
    for depth in (3, 2, 1):
        groups = OrderedDict()
        for key in keys:
            groups.setdefault('.'.join(key.split('.')[:depth]), []).append(key)
        if len(groups) <= limit:
            break
    parts = [members[0] if len(members) == 1 else f'{prefix}.* ({len(members)} keys)'
             for prefix, members in groups.items()]
    more = f', ... ({len(parts) - limit} more groups)' if len(parts) > limit else ''
    return ', '.join(parts[:limit]) + more


class LoadReport(NamedTuple):
    """What :func:`load_model_weights` did not load (all empty after a strict load) and the checkpoint's meta."""
    missing: List[str]
    unexpected: List[str]
    mismatched: List[Tuple[str, tuple, tuple]]  # key, shape in the checkpoint, shape in the model
    meta: dict


def _describe_misfit(path, what, model, missing, unexpected, mismatched):
    lines = [f'{path}: the checkpoint does not fit the {what} ({type(model).__name__}):']
    if missing:
        lines.append(f'  missing in the checkpoint ({len(missing)} keys): {summarize_keys(missing)}')
    if unexpected:
        lines.append(f'  unexpected in the checkpoint ({len(unexpected)} keys): {summarize_keys(unexpected)}')
    for key, saved, wanted in mismatched:
        lines.append(f'  {key}: shape {saved} in the checkpoint, {wanted} in the model')
    return lines


def load_model_weights(model: torch.nn.Module, path: str, strict: bool = True, what: str = 'model',
                       logger='current') -> LoadReport:
    """Load the checkpoint at ``path`` into ``model``.

    ``strict=True``: every model key must be in the checkpoint with the same
    shape and the checkpoint may hold nothing else, or a
    :class:`CheckpointError` lists the missing and unexpected keys (grouped by
    prefix when many) and the shape mismatches; keys in the authors' layout
    add the command that converts them. After such an error the model may be
    partly loaded (as with ``nn.Module.load_state_dict``): discard it.
    ``strict=False``: load what fits, and log a warning (``logger``, an
    mmengine ``print_log`` logger) with what did not.
    """
    state_dict, meta = read_state_dict(path)
    model_state = model.state_dict()
    mismatched = [(key, tuple(value.shape), tuple(model_state[key].shape)) for key, value in state_dict.items()
                  if key in model_state and value.shape != model_state[key].shape]
    skipped = {key for key, _, _ in mismatched}
    fitting = OrderedDict((key, value) for key, value in state_dict.items() if key not in skipped)
    if hasattr(state_dict, '_metadata'):
        fitting._metadata = state_dict._metadata  # BatchNorm reads its version from it
    incompatible = model.load_state_dict(fitting, strict=False)
    missing = [key for key in incompatible.missing_keys if key not in skipped]
    unexpected = list(incompatible.unexpected_keys)
    if not (missing or unexpected or mismatched):
        return LoadReport([], [], [], meta)
    lines = _describe_misfit(path, what, model, missing, unexpected, mismatched)
    kind = authors_layout_kind(unexpected)
    if kind is not None:
        lines.append(f"  Its keys are those of the authors' net/resnet50_{kind}.py (IRN, AdvCAM): convert it with\n"
                     f'    python tools/convert_checkpoint.py {kind} {path} <converted>.pth')
    if strict:
        lines.append('  (strict=False loads only what fits.)')
        raise CheckpointError('\n'.join(lines))
    from mmengine.logging import print_log
    print_log('\n'.join(lines).replace('does not fit', 'loaded with strict=False does not fit', 1),
              logger=logger, level=logging.WARNING)
    return LoadReport(missing, unexpected, mismatched, meta)
