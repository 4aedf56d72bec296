"""Multi-label CAM classifier (IRN's ``resnet50_cam``), registered in mmseg's MODELS."""
from typing import Dict, List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmseg.registry import MODELS


@MODELS.register_module()
class CAMClassifier(BaseModel):
    """Backbone -> global average pooling -> bias-free 1x1 conv to K classes.

    The classifier of IRN (Ahn et al., CVPR 2019) that AdvCAM attributes:
    ResNet-50 with output stride 16 (mmseg ``ResNet`` with
    ``strides=(1, 2, 2, 1)``; the stem supplies the first two halvings),
    multilabel soft-margin loss. ``norm_eval=True`` in the backbone freezes the
    BatchNorm statistics and ``frozen_stages=0`` the stem, as IRN does.

    It also offers the CAM protocol used by :mod:`advcam_mm.core.advcam`:
    :meth:`cam_features` (the last stage's features) and :attr:`cam_weight`
    (the ``(K, D)`` head), so that class maps are ``conv1x1(F, weight)``.

    Args:
        backbone (dict): any registered backbone config; its last output is used.
        num_classes (int): foreground classes K (20 for VOC).
        in_channels (int): channels D of the last backbone stage (2048 for ResNet-50).
        data_preprocessor (dict): e.g. ``SegDataPreProcessor``.
    """

    def __init__(self, backbone: dict, num_classes: int = 20, in_channels: int = 2048,
                 data_preprocessor: Optional[dict] = None, init_cfg=None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.classifier = nn.Conv2d(in_channels, num_classes, kernel_size=1, bias=False)
        self.num_classes = num_classes

    # --- the CAM protocol -------------------------------------------------
    def cam_features(self, inputs: torch.Tensor) -> torch.Tensor:
        """Last-stage features ``F (B, D, h, w)``."""
        features = self.backbone(inputs)
        return features[-1] if isinstance(features, (list, tuple)) else features

    @property
    def cam_weight(self) -> torch.Tensor:
        """The bias-free linear head as a ``(K, D)`` matrix."""
        return self.classifier.weight.flatten(1)

    # --- mmengine BaseModel -----------------------------------------------
    def logits(self, inputs: torch.Tensor) -> torch.Tensor:
        pooled = F.adaptive_avg_pool2d(self.cam_features(inputs), 1)
        return self.classifier(pooled).flatten(1)

    def forward(self, inputs: torch.Tensor, data_samples: Optional[List] = None,
                mode: str = 'tensor'):
        logits = self.logits(inputs)
        if mode == 'tensor':
            return logits
        if mode == 'loss':
            return self.loss(logits, data_samples)
        if mode == 'predict':
            return self.predict(logits, data_samples)
        raise RuntimeError(f"Invalid mode '{mode}': expected 'tensor', 'loss' or 'predict'")

    def loss(self, logits: torch.Tensor, data_samples: List) -> Dict[str, torch.Tensor]:
        targets = torch.stack([sample.gt_class_labels for sample in data_samples]).to(logits)
        return {'loss_cls': F.multilabel_soft_margin_loss(logits, targets)}

    def predict(self, logits: torch.Tensor, data_samples: Optional[List]) -> List:
        scores = torch.sigmoid(logits)
        if data_samples is None:
            from mmseg.structures import SegDataSample
            data_samples = [SegDataSample() for _ in range(len(scores))]
        for sample, score in zip(data_samples, scores):
            sample.set_field(score, 'pred_class_scores')
        return data_samples
