"""CCT's decoder: a 1x1 conv to class scores and sub-pixel (pixel-shuffle) upsampling."""
import math

import torch
import torch.nn as nn
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS


def icnr_(weight: torch.Tensor, scale: int = 2) -> torch.Tensor:
    """ICNR initialisation (Aitken et al. 2017) of a conv feeding ``PixelShuffle(scale)``, in place.

    A kaiming-normal ``(C_out / scale^2, C_in, kh, kw)`` kernel is repeated so
    that the ``scale^2`` sub-pixel outputs of each channel start equal (no
    checkerboard), as CCT's ``icnr`` in ``models/decoders.py``.
    """
    out_channels = weight.shape[0]
    group = scale ** 2
    if out_channels % group:
        raise ValueError(f'icnr_: {out_channels} output channels are not a multiple of {group}')
    base = torch.empty((out_channels // group, ) + tuple(weight.shape[1:]))
    nn.init.kaiming_normal_(base)
    with torch.no_grad():
        weight.copy_(base.repeat_interleave(group, dim=0))
    return weight


class PixelShuffleUpsample(nn.Module):
    """x2 sub-pixel upsampling: 1x1 conv to 4x channels (ICNR), ReLU, ``PixelShuffle(2)`` (CCT's ``PixelShuffle``).

    ``relu=False`` leaves out the ReLU (see ``CCTUpsamplingHead``'s ``relu``).
    """

    def __init__(self, channels: int, scale: int = 2, relu: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels * scale ** 2, kernel_size=1)
        icnr_(self.conv.weight, scale)
        self.shuffle = nn.PixelShuffle(scale)
        self.relu = relu

    def forward(self, x):
        x = self.conv(x)
        return self.shuffle(torch.relu(x) if self.relu else x)


@MODELS.register_module()
class CCTUpsamplingHead(BaseDecodeHead):
    """CCT's main (and auxiliary) decoder (``models/decoders.py``, ``upsample``).

    A bias-free 1x1 conv maps the encoder features to ``num_classes`` scores
    (kaiming-normal), then ``log2(upscale)`` x2 sub-pixel steps bring them to
    the input resolution (``upscale=8`` after an output-stride-8 encoder).
    As in the reference, each step ends in a ReLU before the shuffle, so the
    logits are non-negative. :meth:`decode` takes the feature tensor
    directly: CCT's auxiliary decoders are instances of this head fed with
    perturbed features. No extra ``conv_seg`` or dropout (BaseDecodeHead's
    are removed), so every parameter is used in each forward.

    The decoder is only ``num_classes`` channels wide, and every step ends
    in a ReLU: a unit that is below zero on every pixel gets no gradient and
    carries nothing from then on; in the last step that unit is a class score,
    and a class whose score is zero everywhere is never predicted again. On
    the embedded data (5 classes, features of a classifier trained from
    scratch, 600 iterations) about one class in eight starts dead and
    training on background-dominated crops silences more units, whole classes
    among them (docs/embedded_miniature.md). ``relu=False`` leaves out the
    ReLUs (the decoder becomes a linear map: class scores, then learnt
    sub-pixel upsampling); the default keeps CCT's decoder.

    Args:
        in_channels (int): encoder output channels (512 in CCT).
        num_classes (int): classes including background.
        upscale (int): a power of 2, the encoder's output stride.
        relu (bool): a ReLU before each pixel shuffle, CCT's (True).
        Others as mmseg's ``BaseDecodeHead`` (``align_corners``: CCT resizes
        with ``align_corners=True``).
    """

    def __init__(self, in_channels: int, num_classes: int, upscale: int = 8, relu: bool = True, **kwargs):
        kwargs.setdefault('init_cfg', None)
        kwargs['dropout_ratio'] = 0
        channels = kwargs.pop('channels', num_classes)
        super().__init__(in_channels=in_channels, channels=channels, num_classes=num_classes, **kwargs)
        if upscale < 1 or upscale & (upscale - 1):
            raise ValueError(f'CCTUpsamplingHead: upscale must be a power of 2, got {upscale}')
        del self.conv_seg
        self.upscale = upscale
        self.conv_reduce = nn.Conv2d(self.in_channels, self.out_channels, kernel_size=1, bias=False)
        nn.init.kaiming_normal_(self.conv_reduce.weight, nonlinearity='relu')
        self.upsample = nn.Sequential(*[PixelShuffleUpsample(self.out_channels, relu=relu)
                                        for _ in range(int(math.log2(upscale)))])

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, K, h * upscale, w * upscale)`` of features ``(B, C, h, w)``."""
        return self.upsample(self.conv_reduce(x))

    def forward(self, inputs):
        return self.decode(self._transform_inputs(inputs))
