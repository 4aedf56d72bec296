"""Registered models; importing this package registers them."""
from .cam_classifier import CAMClassifier
from .torchvision_cam_adapter import TorchvisionCAMAdapter

__all__ = ['CAMClassifier', 'TorchvisionCAMAdapter']
from .irnet import IRNet  # noqa: E402,F401
