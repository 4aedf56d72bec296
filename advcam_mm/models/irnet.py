"""IRNet (Ahn et al., CVPR 2019): class boundary and displacement field from a frozen ResNet.

AdvCAM refines its seeds with IRN: IRNet learns, from the inter-pixel relation
labels (:mod:`advcam_mm.core.ir_label`), a class boundary map whose pair
affinities drive the random walk (:mod:`advcam_mm.core.random_walk`).
"""
import math
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.structures import PixelData
from mmseg.registry import MODELS

from ..core.affinity import affinity_labels_from_ir_label, inter_pixel_relation_losses
from ..core.pair_indices import TRAIN_RADIUS, pair_index


def _group_norm(channels):
    """IRN's GroupNorm sizes: 4 groups of 32 channels, 8 of 64, 16 of 128 and more (``min(16, c // 8)``)."""
    if channels % 8:
        raise ValueError(f'IRNet branch widths must be multiples of 8 (GroupNorm), got {channels}')
    return nn.GroupNorm(min(16, channels // 8), channels)


def _reduce_layer(in_channels, out_channels, upsample=1):
    """1x1 conv, GroupNorm, optional bilinear upsampling, ReLU (IRN's ``fc_edge*`` / ``fc_dp*``)."""
    layers = [nn.Conv2d(in_channels, out_channels, 1, bias=False), _group_norm(out_channels)]
    if upsample > 1:
        layers.append(nn.Upsample(scale_factor=upsample, mode='bilinear', align_corners=False))
    layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def _crop_to(x, reference):
    if x.shape[-2] < reference.shape[-2] or x.shape[-1] < reference.shape[-1]:
        raise ValueError(f'upsampled feature {tuple(x.shape[-2:])} smaller than {tuple(reference.shape[-2:])}: '
                         f'IRNet feature_strides do not match the backbone')
    return x[..., :reference.shape[-2], :reference.shape[-1]]


def _scale(stride, target_stride):
    if stride % target_stride:
        raise ValueError(f'feature stride {stride} is not a multiple of {target_stride}')
    return stride // target_stride


class EdgeBranch(nn.Module):
    """Class boundary branch: every level reduced to ``channels``, brought to stride 4, concatenated, 1x1 conv to a logit."""

    def __init__(self, in_channels, feature_strides, channels=32):
        super().__init__()
        self.levels = nn.ModuleList(
            _reduce_layer(c, channels, _scale(s, feature_strides[0])) for c, s in zip(in_channels, feature_strides))
        self.classifier = nn.Conv2d(channels * len(in_channels), 1, 1, bias=True)

    def forward(self, features):
        reference = features[0]
        levels = [_crop_to(layer(f), reference) for layer, f in zip(self.levels, features)]
        return self.classifier(torch.cat(levels, dim=1))


class DisplacementBranch(nn.Module):
    """Displacement field branch: levels 3-5 fused at stride 8, upsampled and fused with levels 1-2 at stride 4.

    Ends in a bias-free 1x1 conv to the two channels ``(dy, dx)``.
    """

    def __init__(self, in_channels, feature_strides, channels=(64, 128, 256, 256, 256), fuse_channels=256):
        super().__init__()
        if len(channels) != 5 or len(in_channels) != 5:
            raise ValueError(f'the displacement branch takes 5 levels, got in_channels {in_channels} '
                             f'and channels {channels}')
        middle = feature_strides[2]
        self.levels = nn.ModuleList([
            _reduce_layer(in_channels[0], channels[0]),
            _reduce_layer(in_channels[1], channels[1]),
            _reduce_layer(in_channels[2], channels[2]),
            _reduce_layer(in_channels[3], channels[3], _scale(feature_strides[3], middle)),
            _reduce_layer(in_channels[4], channels[4], _scale(feature_strides[4], middle)),
        ])
        self.fuse_coarse = _reduce_layer(sum(channels[2:]), fuse_channels, _scale(middle, feature_strides[0]))
        self.fuse_fine = nn.Sequential(
            nn.Conv2d(channels[0] + channels[1] + fuse_channels, fuse_channels, 1, bias=False),
            _group_norm(fuse_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(fuse_channels, 2, 1, bias=False))

    def forward(self, features):
        fine1, fine2, coarse3, coarse4, coarse5 = (layer(f) for layer, f in zip(self.levels, features))
        coarse = torch.cat([coarse3, _crop_to(coarse4, coarse3), _crop_to(coarse5, coarse3)], dim=1)
        coarse = _crop_to(self.fuse_coarse(coarse), fine2)
        return self.fuse_fine(torch.cat([fine1, fine2, coarse], dim=1))


def resnet_levels(backbone, inputs) -> List[torch.Tensor]:
    """The stem output (after max pooling) and every residual stage of an mmseg-style ResNet.

    mmseg's ``ResNet.out_indices`` covers the stages only; IRN also uses the
    stem output (``x1``, 64 channels at stride 4), so the stem runs here.
    """
    if not all(hasattr(backbone, name) for name in ('maxpool', 'res_layers')):
        raise TypeError(f'IRNet needs an mmseg-style ResNet backbone (stem, maxpool, res_layers) to read '
                        f'the stem output, got {type(backbone).__name__}')
    if getattr(backbone, 'deep_stem', False):
        x = backbone.stem(inputs)
    else:
        x = backbone.relu(backbone.norm1(backbone.conv1(inputs)))
    x = backbone.maxpool(x)
    levels = [x]
    for name in backbone.res_layers:
        x = getattr(backbone, name)(x)
        levels.append(x)
    return levels


@MODELS.register_module()
class IRNet(BaseModel):
    """Inter-pixel Relation Network (`Ahn et al., CVPR 2019 <https://arxiv.org/abs/1904.05044>`_), IRN's ``resnet50_irn``.

    A frozen backbone (weights and BatchNorm statistics fixed, features
    detached, as IRN) feeds two branches over its five levels (stem output
    and four stages): a class boundary (edge) branch and a displacement
    field branch, both at stride 4. Training uses the inter-pixel relation
    losses of pixel pairs closer than ``radius`` (:mod:`advcam_mm.core.affinity`);
    the pair labels come from the IR-label map that the dataset yields as
    ``gt_sem_seg``, reduced to stride 4 by nearest neighbour as IRN does, so the
    data pipeline stays a standard segmentation pipeline.

    Modes: ``'tensor'`` gives ``(edge_logits (B, 1, h, w), displacement (B, 2, h, w))``;
    ``'loss'`` the four losses (each with IRN's factor 1/2, so their sum is
    IRN's total); ``'predict'`` the boundary map of each image (sigmoid of
    the image and its flip averaged, IRN's ``EdgeDisplacement``) as
    ``pred_boundary`` and its displacement field as ``pred_displacement``
    (stride-4 :class:`PixelData`).

    IRN subtracts the training set's mean displacement before instance
    segmentation; that step (instances) is not part of this model.

    Args:
        backbone (dict): an mmseg ``ResNet`` config (strides ``(1, 2, 2, 1)``).
        in_channels (sequence[int]): channels of the five levels
            (64, 256, 512, 1024, 2048 for ResNet-50).
        feature_strides (sequence[int]): strides of the five levels.
        edge_channels (int): width of each edge-branch level (IRN: 32).
        displacement_channels (sequence[int]): widths of the five
            displacement-branch levels (IRN: 64, 128, 256, 256, 256).
        displacement_fuse_channels (int): width of its two fusion layers (IRN: 256).
        radius (int): pairs closer than this (stride-4 cells) are trained (IRN: 10).
        ignore_index (int): unsure IR-label value.
        test_pad_size (int): at inference the image is zero-padded (after
            normalisation) at the bottom/right to at least this size, as IRN
            pads to its crop size 512.
    """

    def __init__(self, backbone: dict, in_channels: Sequence[int] = (64, 256, 512, 1024, 2048),
                 feature_strides: Sequence[int] = (4, 4, 8, 16, 16), edge_channels: int = 32,
                 displacement_channels: Sequence[int] = (64, 128, 256, 256, 256),
                 displacement_fuse_channels: int = 256, radius: int = TRAIN_RADIUS, ignore_index: int = 255,
                 test_pad_size: int = 512, data_preprocessor: Optional[dict] = None, init_cfg=None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if len(in_channels) != 5 or len(feature_strides) != 5:
            raise ValueError(f'IRNet takes 5 levels (stem + 4 stages), got in_channels {tuple(in_channels)} '
                             f'and feature_strides {tuple(feature_strides)}')
        self.backbone = MODELS.build(backbone)
        for param in self.backbone.parameters():
            param.requires_grad_(False)
        self.in_channels = tuple(in_channels)
        self.feature_stride = feature_strides[0]
        self.edge_branch = EdgeBranch(in_channels, feature_strides, edge_channels)
        self.displacement_branch = DisplacementBranch(in_channels, feature_strides, displacement_channels,
                                                      displacement_fuse_channels)
        self.radius = radius
        self.ignore_index = ignore_index
        self.test_pad_size = test_pad_size

    def train(self, mode: bool = True):
        """The backbone stays in eval mode (frozen BatchNorm statistics), as IRN."""
        super().train(mode)
        self.backbone.eval()
        return self

    # --- network ------------------------------------------------------------------
    def extract_features(self, inputs: torch.Tensor) -> List[torch.Tensor]:
        """The five detached backbone levels (no graph is kept through the frozen backbone)."""
        with torch.no_grad():
            levels = resnet_levels(self.backbone, inputs)
        for index, (level, channels) in enumerate(zip(levels, self.in_channels)):
            if level.shape[1] != channels:
                raise ValueError(f'backbone level {index} has {level.shape[1]} channels but IRNet '
                                 f'in_channels[{index}] = {channels}')
        return [level.detach() for level in levels]

    def edge_and_displacement_logits(self, inputs: torch.Tensor):
        """``(edge_logits (B, 1, h, w), displacement (B, 2, h, w))`` at stride 4."""
        features = self.extract_features(inputs)
        return self.edge_branch(features), self.displacement_branch(features)

    # --- mmengine BaseModel ---------------------------------------------------------
    def forward(self, inputs: torch.Tensor, data_samples: Optional[List] = None, mode: str = 'tensor'):
        if mode == 'tensor':
            return self.edge_and_displacement_logits(inputs)
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise RuntimeError(f"Invalid mode '{mode}': expected 'tensor', 'loss' or 'predict'")

    def reduce_ir_label(self, data_samples, size) -> torch.Tensor:
        """``(B, h, w)`` int64 IR labels at the feature size: nearest neighbour with IRN's sampling.

        IRN rescales the cropped label by 1/4 with PIL's nearest filter, which
        samples the centre of each 4x4 cell (``nearest-exact``).
        """
        labels = torch.stack([sample.gt_sem_seg.data for sample in data_samples])  # (B, 1, H, W)
        reduced = F.interpolate(labels.float(), size=tuple(size), mode='nearest-exact')
        return reduced[:, 0].long()

    def loss(self, inputs: torch.Tensor, data_samples: List) -> dict:
        edge_logits, displacement = self.edge_and_displacement_logits(inputs)
        size = edge_logits.shape[-2:]
        index = pair_index(size, self.radius, device=edge_logits.device)  # cached per size and device
        label = self.reduce_ir_label(data_samples, size).to(edge_logits.device)
        bg_pos, fg_pos, neg = affinity_labels_from_ir_label(label, index.indices_from, index.indices_to,
                                                            self.ignore_index)
        losses = inter_pixel_relation_losses(edge_logits, displacement, bg_pos, fg_pos, neg, index)
        return {f'loss_{name}': value / 2 for name, value in losses.items()}

    @torch.no_grad()
    def boundary_and_displacement(self, image: torch.Tensor):
        """One normalised image ``(3, H, W)`` -> boundary ``(h, w)`` in [0, 1] and displacement ``(2, h, w)``.

        IRN's ``EdgeDisplacement``: the image and its horizontal flip are padded
        to ``test_pad_size``, the boundary is ``sigmoid`` of the mean of the two
        logit maps (flip undone), the displacement that of the image;
        ``h, w = ceil(H / 4), ceil(W / 4)``.
        """
        if image.dim() != 3:
            raise ValueError(f'expected one (3, H, W) image, got shape {tuple(image.shape)}')
        height, width = image.shape[-2:]
        size = (math.ceil(height / self.feature_stride), math.ceil(width / self.feature_stride))
        pair = torch.stack([image, image.flip(-1)])
        pair = F.pad(pair, (0, max(0, self.test_pad_size - width), 0, max(0, self.test_pad_size - height)))
        edge_logits, displacement = self.edge_and_displacement_logits(pair)
        edge_logits = edge_logits[:, 0, :size[0], :size[1]]
        boundary = torch.sigmoid(edge_logits[0] / 2 + edge_logits[1].flip(-1) / 2)
        return boundary, displacement[0, :, :size[0], :size[1]]

    def predict(self, inputs: torch.Tensor, data_samples: Optional[List] = None) -> List:
        if data_samples is None:
            from mmseg.structures import SegDataSample
            data_samples = [SegDataSample() for _ in range(len(inputs))]
        for image, sample in zip(inputs, data_samples):
            height, width = sample.metainfo.get('img_shape', image.shape[-2:])[:2]
            boundary, displacement = self.boundary_and_displacement(image[:, :height, :width])
            sample.set_field(PixelData(data=boundary[None]), 'pred_boundary')
            sample.set_field(PixelData(data=displacement), 'pred_displacement')
        return data_samples
