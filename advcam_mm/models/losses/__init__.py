"""Registered segmentation losses; importing this package registers them."""
from .balanced_cross_entropy import BalancedCrossEntropyLoss, balanced_cross_entropy

__all__ = ['BalancedCrossEntropyLoss', 'balanced_cross_entropy']
