"""Pyramid pooling on the last backbone stage: the end of CCT's encoder."""
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmseg.registry import MODELS


@MODELS.register_module()
class PyramidPoolingNeck(BaseModule):
    """PSPNet's pyramid pooling module as a neck (CCT's encoder, ``models/encoder.py``).

    CCT's encoder is a dilated ResNet (output stride 8) followed by a pyramid
    pooling module: the feature ``x`` is average-pooled to each bin size,
    reduced by a 1x1 conv-BN-ReLU to ``in_channels // len(bin_sizes)``
    channels, upsampled back (bilinear), concatenated with ``x`` and fused by
    a 3x3 conv-BN-ReLU to ``channels`` (512 for ResNet-50's 2048 = 2048 / 4,
    the input width of CCT's decoders). All decoders read its output.

    The pooled maps are upsampled with ``align_corners=False``, as CCT's
    ``_PSPModule.forward``. With the same weights ``True`` gives another
    output for every bin other than 1x1 (or the feature's own size), so
    weights trained one way do not fit the other. CCT's decoders and its
    final resize to the input do use ``align_corners=True``: that is the
    head's setting (``CCTUpsamplingHead``), not this one.

    Args:
        in_channels (int): channels of the backbone output used (``in_index``).
        channels (int): output channels.
        bin_sizes (sequence[int]): pooled sizes, CCT's ``(1, 2, 3, 6)``.
        in_index (int): which backbone output to use (default the last).
        norm_cfg (dict): normalisation of the conv modules (BN; SyncBN on GPUs).
        align_corners (bool): of the upsampling (CCT: False).
    Returns (forward): a tuple with one ``(B, channels, h, w)`` tensor.
    """

    def __init__(self, in_channels: int = 2048, channels: int = 512,
                 bin_sizes: Sequence[int] = (1, 2, 3, 6), in_index: int = -1,
                 norm_cfg: dict = dict(type='BN', requires_grad=True), align_corners: bool = False,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if not bin_sizes:
            raise ValueError('PyramidPoolingNeck: bin_sizes must not be empty')
        pool_channels = in_channels // len(bin_sizes)
        self.in_index = in_index
        self.align_corners = align_corners
        self.stages = nn.ModuleList(
            nn.Sequential(nn.AdaptiveAvgPool2d(size),
                          ConvModule(in_channels, pool_channels, 1, bias=False, norm_cfg=norm_cfg))
            for size in bin_sizes)
        self.bottleneck = ConvModule(in_channels + pool_channels * len(bin_sizes), channels, 3, padding=1,
                                     bias=False, norm_cfg=norm_cfg)

    def forward(self, inputs):
        x = inputs[self.in_index] if isinstance(inputs, (list, tuple)) else inputs
        size = x.shape[-2:]
        pyramid = [x] + [F.interpolate(stage(x), size=size, mode='bilinear', align_corners=self.align_corners)
                         for stage in self.stages]
        return (self.bottleneck(torch.cat(pyramid, dim=1)), )
