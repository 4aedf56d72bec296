"""Registered metrics; importing this package registers them."""
from .multilabel_metric import MultiLabelMetric

__all__ = ['MultiLabelMetric']
