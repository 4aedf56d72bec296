"""Metrics: multi-label classification, seeds over a threshold sweep, pseudo masks; registered where an
MMEngine evaluator uses them (importing this package registers them)."""
from .multilabel_metric import MultiLabelMetric
from .seed_metric import SeedMetric

__all__ = ['MultiLabelMetric', 'SeedMetric']
