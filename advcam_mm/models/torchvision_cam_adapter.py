"""CAM protocol for a torchvision classifier, without retraining.

The paper's generality claim: AdvCAM manipulates the input of *any* classifier
whose head is a linear layer after global average pooling. For a torchvision
ResNet the last stage is ``layer4`` and the head is ``fc.weight``; ``fc.bias``
does not change where the class maps are high and is left out, as in CAM.
"""
import torch.nn as nn


class TorchvisionCAMAdapter(nn.Module):
    """Expose ``cam_features`` / ``cam_weight`` of a torchvision ResNet-like classifier.

    Args:
        classifier: e.g. ``torchvision.models.resnet50(weights=...)``.
        feature_layer: name of the last convolutional stage (``'layer4'``).
        head: name of the linear head (``'fc'``).
        class_indices: optional subset of the head's rows (e.g. ImageNet classes
            matching the dataset's); ``None`` keeps all rows.
    """

    def __init__(self, classifier: nn.Module, feature_layer: str = 'layer4', head: str = 'fc',
                 class_indices=None):
        super().__init__()
        self.classifier = classifier
        self.feature_layer = feature_layer
        self.head = head
        self.class_indices = class_indices

    def cam_features(self, inputs):
        net = self.classifier
        x = inputs
        for name, module in net.named_children():
            if name in ('avgpool', self.head):
                break
            x = module(x)
            if name == self.feature_layer:
                return x
        raise KeyError(f"feature layer '{self.feature_layer}' not found in {type(net).__name__}")

    @property
    def cam_weight(self):
        weight = getattr(self.classifier, self.head).weight
        return weight if self.class_indices is None else weight[list(self.class_indices)]

    def forward(self, inputs):
        return self.classifier(inputs)
