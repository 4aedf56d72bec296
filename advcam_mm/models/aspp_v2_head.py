"""DeepLab-v2's ASPP head (Chen et al., TPAMI 2017, Sec. 3.3 / Fig. 4), registered in mmseg's MODELS.

Atrous spatial pyramid pooling as DeepLab-v2 builds it on ResNet-101
(``fc1_voc12_c0..c3`` in its prototxt): four parallel 3x3 convolutions with
dilations 6, 12, 18 and 24, each mapping the last backbone stage *directly* to
class scores; the four score maps are summed. Unlike MMSeg's ``ASPPHead``
(DeepLab-v3) there is no image-pooling branch, no 1x1 branch, no BatchNorm,
no ReLU and no bottleneck/classifier conv after the fusion.
"""
from typing import Sequence

import torch
import torch.nn as nn
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS

#: DeepLab-v2's initialisation of the classifier convs: N(0, 0.01) weights, zero bias.
DEEPLAB_V2_HEAD_INIT = dict(type='Normal', std=0.01, bias=0, layer='Conv2d')


@MODELS.register_module()
class ASPPV2Head(BaseDecodeHead):
    """Sum of parallel dilated 3x3 convs, each ``in_channels -> num_classes`` (DeepLab-v2 ASPP).

    Args:
        in_channels (int): channels of the backbone output used (2048 for ResNet-101).
        num_classes (int): classes, background included (21 for VOC).
        dilations (Sequence[int]): one branch per rate; DeepLab-v2's ``(6, 12, 18, 24)``.
        channels (int, optional): unused by this head (``BaseDecodeHead``
            requires it); defaults to ``in_channels``.
        dropout_ratio (float): dropout on the input features; DeepLab-v2 has none (0).
        init_cfg (dict): default :data:`DEEPLAB_V2_HEAD_INIT`.
        Others (``in_index``, ``loss_decode``, ``ignore_index``, ``align_corners``, ...)
        as mmseg's ``BaseDecodeHead``.

    ``forward`` returns ``sum_r conv_r(x)``, ``(B, out_channels, h, w)`` at the
    backbone's resolution (mmseg upsamples it in the loss and at test time).
    The base class's ``conv_seg`` is removed: the branches are the classifier.
    """

    def __init__(self, in_channels: int, num_classes: int, dilations: Sequence[int] = (6, 12, 18, 24),
                 channels=None, dropout_ratio: float = 0.0, init_cfg=DEEPLAB_V2_HEAD_INIT, **kwargs):
        if not dilations:
            raise ValueError('ASPPV2Head needs at least one dilation rate')
        if kwargs.get('input_transform') is not None:
            raise ValueError('ASPPV2Head reads one backbone output: input_transform must be None')
        super().__init__(in_channels, channels if channels is not None else in_channels,
                         num_classes=num_classes, dropout_ratio=dropout_ratio, init_cfg=init_cfg, **kwargs)
        del self.conv_seg  # the branches already end in class scores (no unused parameters under DDP)
        self.dilations = tuple(int(d) for d in dilations)
        self.aspp = nn.ModuleList(
            nn.Conv2d(self.in_channels, self.out_channels, kernel_size=3, padding=d, dilation=d, bias=True)
            for d in self.dilations)

    def forward(self, inputs) -> torch.Tensor:
        x = self._transform_inputs(inputs)
        if self.dropout is not None:
            x = self.dropout(x)
        scores = self.aspp[0](x)
        for branch in self.aspp[1:]:
            scores = scores + branch(x)
        return scores
