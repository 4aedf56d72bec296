"""The authors' checkpoints (IRN's ``res50_cam.pth`` / ``res50_irn.pth``) in this project's names.

Pure state-dict key mapping (torch only). The reference code (jiwoon-ahn/irn,
whose ``net/`` jbeomlee93/AdvCAM copies) saves ``model.state_dict()`` of

* ``net/resnet50_cam.py: Net`` (``cam``): ``resnet50.*`` (IRN's ResNet-50),
  ``classifier.weight``, and the same tensors again under the aliases that
  ``state_dict()`` writes for every path to a shared module: ``stage1.{0,1,4}``
  (conv1, bn1, layer1), ``stage2.0`` .. ``stage4.0`` (layer2..layer4),
  ``backbone.{0..3}`` (the stages) and ``newly_added.0`` (the classifier);
* ``net/resnet50_irn.py: AffinityDisplacementLoss`` (``irn``): ``resnet50.*``,
  ``fc_edge1..6``, ``fc_dp1..7``, ``mean_shift.running_mean``, the aliases
  ``stage1.{0,1}``, ``stage2.0`` .. ``stage5.0``, ``backbone.{0..4}``,
  ``edge_layers.{0..5}``, ``dp_layers.{0..6}``, ``fc_dp7.4`` (the MeanShift),
  and the training buffers ``path_indices<i>`` and ``disp_target``.

Aliases must hold the tensor they alias (checked), then one copy is kept.
What maps where, and why the networks are the same:

* ``resnet50.*`` -> ``backbone.*`` (mmseg ``ResNet``, whose names are
  torchvision's). IRN's ``resnet50(strides=(2, 2, 2, 1))`` (conv1 /2, maxpool
  /2, layer1..4 strides 1, 2, 2, 1) is mmseg's ``ResNet(strides=(1, 2, 2, 1))``
  behind its /4 stem; both put the stride on the 3x3 conv (IRN's
  ``Bottleneck``; mmseg ``style='pytorch'``), downsample with a strided 1x1
  conv + BN and use BN eps 1e-5. IRN's ``FixedBatchNorm`` always uses the
  running statistics, mmseg's BN does so in eval mode (and with
  ``norm_eval=True`` in training).
* AdvCAM's ``Net(stride=8)`` (``strides=(2, 2, 1, 1), dilations=(1, 1, 2, 2)``):
  IRN's ``_make_layer`` leaves the first block of each layer undilated; mmseg
  does the same only with ``contract_dilation=True`` (``strides=(1, 2, 1, 1),
  dilations=(1, 1, 2, 2)``); without it the first blocks of layer3/layer4 are
  dilated and the features differ. The keys are the same either way.
* ``classifier.weight`` -> ``classifier.weight`` (bias-free 1x1 conv).
* ``fc_edge1..5.{0,1}`` -> ``edge_branch.levels.{0..4}.{0,1}`` (conv, GroupNorm),
  ``fc_edge6`` -> ``edge_branch.classifier``; ``fc_dp1..5.{0,1}`` ->
  ``displacement_branch.levels.{0..4}.{0,1}``, ``fc_dp6`` -> ``fuse_coarse``,
  ``fc_dp7.{0,1,3}`` -> ``fuse_fine.{0,1,3}``. Levels, GroupNorm groups (4 of
  32; 8 of 64; 16 of 128 and 256), bilinear upsampling (x2, x4, x4; x2, x2; x2)
  and crops are IRN's.
* Not weights of this project's IRNet: IRN's ``MeanShift`` (the training set's
  mean displacement, subtracted from the displacement field by
  ``EdgeDisplacement``) comes back as ``extras['mean_displacement']``, as this
  IRNet returns the field without it (the boundary map is unaffected);
  ``path_indices<i>`` / ``disp_target`` are the loss's pair indices for one
  crop size, which this project recomputes, and are dropped.
"""
import re
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional

import torch

KINDS = ('cam', 'irn')
RESNET50_BLOCKS = (3, 4, 6, 3)
_BN_ENTRIES = ('weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked')
MEAN_SHIFT_KEY = 'mean_shift.running_mean'


class AuthorsCheckpointError(ValueError):
    """A state dict that is not in the authors' layout for the requested kind."""


def resnet50_keys() -> List[str]:
    """The state-dict keys of a ResNet-50 in torchvision's names (IRN's ``resnet50``, mmseg's ``ResNet``)."""
    keys = ['conv1.weight'] + [f'bn1.{entry}' for entry in _BN_ENTRIES]
    for layer, blocks in enumerate(RESNET50_BLOCKS, start=1):
        for block in range(blocks):
            prefix = f'layer{layer}.{block}.'
            for index in (1, 2, 3):
                keys.append(f'{prefix}conv{index}.weight')
                keys += [f'{prefix}bn{index}.{entry}' for entry in _BN_ENTRIES]
            if block == 0:
                keys.append(f'{prefix}downsample.0.weight')
                keys += [f'{prefix}downsample.1.{entry}' for entry in _BN_ENTRIES]
    return keys


def _conv_norm(prefix):
    """Keys of IRN's ``Sequential(Conv2d(bias=False), GroupNorm, ...)`` at ``prefix``."""
    return [f'{prefix}.0.weight', f'{prefix}.1.weight', f'{prefix}.1.bias']


def _irn_head_keys() -> List[str]:
    keys = []
    for index in range(1, 6):
        keys += _conv_norm(f'fc_edge{index}')
    keys += ['fc_edge6.weight', 'fc_edge6.bias']
    for index in range(1, 7):
        keys += _conv_norm(f'fc_dp{index}')
    keys += _conv_norm('fc_dp7') + ['fc_dp7.3.weight']
    return keys


def authors_keys(kind: str) -> List[str]:
    """The canonical (alias-free) weight keys of the authors' ``kind`` network."""
    backbone = ['resnet50.' + key for key in resnet50_keys()]
    if kind == 'cam':
        return backbone + ['classifier.weight']
    if kind == 'irn':
        return backbone + _irn_head_keys()
    raise AuthorsCheckpointError(f'unknown checkpoint kind {kind!r}; expected one of {KINDS}')


def _backbone_stage(stage_to_layers):
    """Alias rules of ``stage<n>`` Sequentials that wrap ResNet modules."""
    return [(rf'^stage{stage}\.{index}\.', f'resnet50.{module}.')
            for stage, modules in stage_to_layers.items() for index, module in modules]


# alias pattern -> what it aliases; applied until none matches (backbone.i -> stage<i+1> -> resnet50).
_ALIASES = {
    'cam': [(r'^backbone\.(\d+)\.', lambda m: f'stage{int(m[1]) + 1}.'),
            (r'^newly_added\.0\.', 'classifier.')] + _backbone_stage({
                1: [(0, 'conv1'), (1, 'bn1'), (4, 'layer1')], 2: [(0, 'layer2')], 3: [(0, 'layer3')],
                4: [(0, 'layer4')]}),
    'irn': [(r'^backbone\.(\d+)\.', lambda m: f'stage{int(m[1]) + 1}.'),
            (r'^edge_layers\.(\d+)\.', lambda m: f'fc_edge{int(m[1]) + 1}.'),
            (r'^dp_layers\.(\d+)\.', lambda m: f'fc_dp{int(m[1]) + 1}.'),
            (r'^fc_dp7\.4\.running_mean$', MEAN_SHIFT_KEY)] + _backbone_stage({
                1: [(0, 'conv1'), (1, 'bn1')], 2: [(0, 'layer1')], 3: [(0, 'layer2')], 4: [(0, 'layer3')],
                5: [(0, 'layer4')]}),
}

# canonical pattern -> this project's name, with a readable label for the summary.
_RESNET = [('resnet50.* -> backbone.*', r'^resnet50\.', 'backbone.')]
_RENAMES = {
    'cam': _RESNET + [('classifier.weight -> classifier.weight', r'^classifier\.weight$', 'classifier.weight')],
    'irn': _RESNET + [
        ('fc_edge1..5.* -> edge_branch.levels.0..4.*', r'^fc_edge([1-5])\.',
         lambda m: f'edge_branch.levels.{int(m[1]) - 1}.'),
        ('fc_edge6.* -> edge_branch.classifier.*', r'^fc_edge6\.', 'edge_branch.classifier.'),
        ('fc_dp1..5.* -> displacement_branch.levels.0..4.*', r'^fc_dp([1-5])\.',
         lambda m: f'displacement_branch.levels.{int(m[1]) - 1}.'),
        ('fc_dp6.* -> displacement_branch.fuse_coarse.*', r'^fc_dp6\.', 'displacement_branch.fuse_coarse.'),
        ('fc_dp7.* -> displacement_branch.fuse_fine.*', r'^fc_dp7\.', 'displacement_branch.fuse_fine.'),
    ],
}

# keys of the authors' checkpoints that are not weights of this project's models.
_DROPPED = {
    'cam': [],
    'irn': [(r'^path_indices\d+$', 'AffinityDisplacementLoss pair indices for one crop size (recomputed here)'),
            (r'^disp_target$', 'AffinityDisplacementLoss displacement targets (recomputed here)')],
}

# key prefixes that only the authors' layout has (this project's models use backbone.conv1, edge_branch, ...).
_LAYOUT_MARKERS = {
    'irn': ('fc_edge', 'fc_dp', 'edge_layers.', 'dp_layers.', 'mean_shift.', 'stage5.'),
    'cam': ('resnet50.', 'stage1.', 'stage2.', 'stage3.', 'stage4.', 'newly_added.'),
}


def authors_layout_kind(keys: Iterable[str]) -> Optional[str]:
    """``'irn'`` or ``'cam'`` when ``keys`` are in the authors' layout, else None."""
    keys = list(keys)
    for kind in ('irn', 'cam'):
        if any(key.startswith(_LAYOUT_MARKERS[kind]) for key in keys):
            return kind
    return None


def _rewrite(rules, key):
    """``key`` rewritten by the first ``(pattern, replacement)`` rule that matches, or None."""
    for pattern, replacement in rules:
        new_key, count = re.subn(pattern, replacement, key, count=1)
        if count:
            return new_key
    return None


def _rename(kind, canonical):
    """``(summary label, this project's key)`` of an authors' canonical key."""
    for label, pattern, replacement in _RENAMES[kind]:
        new_key, count = re.subn(pattern, replacement, canonical, count=1)
        if count:
            return label, new_key
    raise AuthorsCheckpointError(f'no rename rule for {canonical!r}')  # a gap in _RENAMES, not in the input


def _drop_reason(kind, key):
    return next((reason for pattern, reason in _DROPPED[kind] if re.match(pattern, key)), None)


def canonical_key(key: str, kind: str) -> str:
    """The key an authors' alias stands for: ``backbone.0.4.1.conv1.weight`` -> ``resnet50.layer1.1.conv1.weight``."""
    for _ in range(8):  # alias chains are at most 3 long
        aliased = _rewrite(_ALIASES[kind], key)
        if aliased is None:
            return key
        key = aliased
    raise AuthorsCheckpointError(f'alias rules loop on {key!r}')


@dataclass
class Conversion:
    """The result of :func:`convert_authors_state_dict`.

    Attributes:
        kind: ``'cam'`` or ``'irn'``.
        state_dict: this project's keys -> tensors.
        sources: this project's key -> the authors' keys it came from (one
            tensor, the first key canonical, the others aliases of it).
        renamed: summary label -> number of tensors renamed by that rule.
        extras: values that are not weights (``mean_displacement`` for IRN).
        dropped: authors' key -> why it is not carried over.
        filled: this project's keys that the source lacked and were filled
            (``num_batches_tracked`` of checkpoints saved before torch 0.4.1).
    """
    kind: str
    state_dict: Dict[str, torch.Tensor] = field(default_factory=dict)
    sources: Dict[str, List[str]] = field(default_factory=dict)
    renamed: Dict[str, int] = field(default_factory=dict)
    extras: Dict[str, torch.Tensor] = field(default_factory=dict)
    dropped: Dict[str, str] = field(default_factory=dict)
    filled: List[str] = field(default_factory=list)

    @property
    def alias_count(self) -> int:
        return sum(len(keys) - 1 for keys in self.sources.values())

    def summary(self) -> List[str]:
        """Lines that say what was mapped, checked, dropped and filled."""
        lines = [f'{label} ({count} tensor{"s" * (count != 1)})' for label, count in self.renamed.items()]
        lines.append(f'{self.alias_count} aliases (stage*, backbone.N, ...) checked equal to the tensors '
                     f'they alias and not copied')
        lines += [f'{name}: {tuple(value.shape)} tensor kept as meta' for name, value in self.extras.items()]
        reasons = {}
        for key, reason in self.dropped.items():
            reasons.setdefault(reason, []).append(key)
        lines += [f'dropped {", ".join(keys)}: {reason}' for reason, keys in reasons.items()]
        if self.filled:
            lines.append(f'filled {len(self.filled)} BatchNorm num_batches_tracked counters with 0')
        return lines


def _key_list(keys, limit=10):
    keys = sorted(keys)
    more = f', ... ({len(keys) - limit} more)' if len(keys) > limit else ''
    return ', '.join(keys[:limit]) + more


def convert_authors_state_dict(state_dict: Mapping[str, torch.Tensor], kind: str,
                               source: str = 'the checkpoint') -> Conversion:
    """Map the authors' ``kind`` state dict (``'cam'`` or ``'irn'``) onto this project's model keys.

    Every key must be a weight of the authors' network, an alias of one
    (holding the same tensor), or a known non-weight; every weight must be
    present. Anything else is an :class:`AuthorsCheckpointError` that names
    ``source`` and the keys.
    """
    expected = authors_keys(kind)
    expected_set = set(expected)
    detected = authors_layout_kind(state_dict)
    if detected is not None and detected != kind:
        raise AuthorsCheckpointError(f'{source} looks like the authors\' {detected!r} checkpoint, not {kind!r}')
    groups, unknown = {}, []
    conversion = Conversion(kind)
    for key, value in state_dict.items():
        reason = _drop_reason(kind, key)
        if reason is not None:
            conversion.dropped[key] = reason
            continue
        canonical = canonical_key(key, kind)
        if canonical in expected_set or (kind == 'irn' and canonical == MEAN_SHIFT_KEY):
            groups.setdefault(canonical, []).append(key)
        else:
            unknown.append(key)
    if unknown:
        raise AuthorsCheckpointError(f'{source}: {len(unknown)} keys are not part of the authors\' {kind} '
                                     f'network: {_key_list(unknown)}')
    for canonical, keys in groups.items():
        keys.sort(key=lambda k: (k != canonical, k))  # the canonical key first
        first = state_dict[keys[0]]
        differing = [k for k in keys[1:] if not torch.equal(state_dict[k], first)]
        if differing:
            raise AuthorsCheckpointError(f'{source}: {", ".join(differing)} should alias {keys[0]} '
                                         f'but hold a different tensor')
    optional = [k for k in expected if k.endswith('num_batches_tracked')]
    missing = [k for k in expected if k not in groups and k not in optional]
    if missing:
        raise AuthorsCheckpointError(f'{source}: {len(missing)} weights of the authors\' {kind} network are '
                                     f'missing: {_key_list(missing)}')
    if MEAN_SHIFT_KEY in groups:
        conversion.extras['mean_displacement'] = state_dict[groups.pop(MEAN_SHIFT_KEY)[0]].clone()
    for canonical in expected:
        label, target = _rename(kind, canonical)
        if canonical in groups:
            keys = groups[canonical]
            conversion.state_dict[target] = state_dict[keys[0]].clone()
            conversion.sources[target] = keys
        else:  # a num_batches_tracked counter (pre-0.4.1 torch): only training reads it
            conversion.state_dict[target] = torch.tensor(0, dtype=torch.long)
            conversion.filled.append(target)
            conversion.sources[target] = []
        conversion.renamed[label] = conversion.renamed.get(label, 0) + 1
    return conversion
