"""Registered models; importing this package registers them."""
from .cam_classifier import CAMClassifier
from .torchvision_cam_adapter import TorchvisionCAMAdapter

__all__ = ['CAMClassifier', 'TorchvisionCAMAdapter']
from .irnet import IRNet  # noqa: E402,F401
from .cct_segmentor import CCTSegmentor  # noqa: E402,F401
from .cct_upsampling_head import CCTUpsamplingHead  # noqa: E402,F401
from .pyramid_pooling_neck import PyramidPoolingNeck  # noqa: E402,F401
from .aspp_v2_head import ASPPV2Head  # noqa: E402,F401
from .crf_postprocess import EncoderDecoderWithCRF, SegTTAModelWithCRF  # noqa: E402,F401
from .losses import BalancedCrossEntropyLoss  # noqa: E402,F401
