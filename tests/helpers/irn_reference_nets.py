"""The authors' networks (jiwoon-ahn/irn ``net/``, copied by jbeomlee93/AdvCAM), re-written for tests.

Same module names and nesting as ``net/resnet50.py``, ``net/resnet50_cam.py``
and ``net/resnet50_irn.py``, so ``state_dict()`` gives their checkpoints'
exact layout (aliases included), and the same forward passes (``CAM``,
``EdgeDisplacement``), so a converted checkpoint can be compared with them.
No pretrained download: weights are random (:func:`randomize_`). Not used by
the package.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class FixedBatchNorm(nn.BatchNorm2d):
    """IRN's BatchNorm: always the running statistics, in training too."""

    def forward(self, x):
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            training=False, eps=self.eps)


class Bottleneck(nn.Module):
    """1x1, 3x3 (carries stride and dilation), 1x1, each with FixedBatchNorm; residual; ReLU."""
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, dilation=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = FixedBatchNorm(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=dilation, dilation=dilation, bias=False)
        self.bn2 = FixedBatchNorm(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = FixedBatchNorm(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


class ResNet(nn.Module):
    """IRN's ResNet: ``strides[0]`` on conv1, maxpool /2, layer1 stride 1, layer2..4 ``strides[1:]``.

    As IRN's ``_make_layer``, the first block of a layer is never dilated,
    the others get the layer's dilation. No pooling/fc head.
    """

    def __init__(self, layers=(3, 4, 6, 3), strides=(2, 2, 2, 2), dilations=(1, 1, 1, 1)):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 7, stride=strides[0], padding=3, bias=False)
        self.bn1 = FixedBatchNorm(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._make_layer(64, layers[0], 1, dilations[0])
        self.layer2 = self._make_layer(128, layers[1], strides[1], dilations[1])
        self.layer3 = self._make_layer(256, layers[2], strides[2], dilations[2])
        self.layer4 = self._make_layer(512, layers[3], strides[3], dilations[3])

    def _make_layer(self, planes, blocks, stride, dilation):
        downsample = None
        if stride != 1 or self.inplanes != planes * 4:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes * 4, 1, stride=stride, bias=False),
                                       FixedBatchNorm(planes * 4))
        layers = [Bottleneck(self.inplanes, planes, stride, downsample, dilation=1)]
        self.inplanes = planes * 4
        layers += [Bottleneck(self.inplanes, planes, dilation=dilation) for _ in range(1, blocks)]
        return nn.Sequential(*layers)


def resnet50(strides, dilations=(1, 1, 1, 1)):
    return ResNet((3, 4, 6, 3), strides, dilations)


class CAMNet(nn.Module):
    """``net/resnet50_cam.py: Net`` (with AdvCAM's ``stride`` option): its module names, ``forward`` = logits."""

    def __init__(self, stride=16):
        super().__init__()
        if stride == 16:
            self.resnet50 = resnet50(strides=(2, 2, 2, 1))
        else:  # AdvCAM's stride-8 variant
            self.resnet50 = resnet50(strides=(2, 2, 1, 1), dilations=(1, 1, 2, 2))
        r = self.resnet50
        self.stage1 = nn.Sequential(r.conv1, r.bn1, r.relu, r.maxpool, r.layer1)
        self.stage2 = nn.Sequential(r.layer2)
        self.stage3 = nn.Sequential(r.layer3)
        self.stage4 = nn.Sequential(r.layer4)
        self.classifier = nn.Conv2d(2048, 20, 1, bias=False)
        self.backbone = nn.ModuleList([self.stage1, self.stage2, self.stage3, self.stage4])
        self.newly_added = nn.ModuleList([self.classifier])

    def features(self, x):
        return self.stage4(self.stage3(self.stage2(self.stage1(x))))

    def forward(self, x):
        pooled = self.features(x).mean(dim=(2, 3), keepdim=True)  # torchutils.gap2d
        return self.classifier(pooled).view(-1, 20)

    def cam(self, pair):
        """``CAM.forward``: an image and its flip -> ``ReLU(conv(F, w))`` of both, flip undone, summed."""
        maps = F.relu(F.conv2d(self.features(pair), self.classifier.weight))
        return maps[0] + maps[1].flip(-1)


def _conv_gn(in_channels, out_channels, groups, upsample=1):
    layers = [nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.GroupNorm(groups, out_channels)]
    if upsample > 1:
        layers.append(nn.Upsample(scale_factor=upsample, mode='bilinear', align_corners=False))
    layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class MeanShift(nn.Module):
    """IRN's ``Net.MeanShift``: subtract the stored mean displacement in eval mode."""

    def __init__(self, num_features):
        super().__init__()
        self.register_buffer('running_mean', torch.zeros(num_features))

    def forward(self, x):
        return x if self.training else x - self.running_mean.view(1, 2, 1, 1)


class IRNNet(nn.Module):
    """``net/resnet50_irn.py: Net``: module names, ``forward`` -> ``(edge_out, dp_out)``, ``edge_displacement``."""

    def __init__(self):
        super().__init__()
        self.resnet50 = resnet50(strides=(2, 2, 2, 1))
        r = self.resnet50
        self.stage1 = nn.Sequential(r.conv1, r.bn1, r.relu, r.maxpool)
        self.stage2 = nn.Sequential(r.layer1)
        self.stage3 = nn.Sequential(r.layer2)
        self.stage4 = nn.Sequential(r.layer3)
        self.stage5 = nn.Sequential(r.layer4)
        self.mean_shift = MeanShift(2)
        self.fc_edge1 = _conv_gn(64, 32, 4)
        self.fc_edge2 = _conv_gn(256, 32, 4)
        self.fc_edge3 = _conv_gn(512, 32, 4, upsample=2)
        self.fc_edge4 = _conv_gn(1024, 32, 4, upsample=4)
        self.fc_edge5 = _conv_gn(2048, 32, 4, upsample=4)
        self.fc_edge6 = nn.Conv2d(160, 1, 1, bias=True)
        self.fc_dp1 = _conv_gn(64, 64, 8)
        self.fc_dp2 = _conv_gn(256, 128, 16)
        self.fc_dp3 = _conv_gn(512, 256, 16)
        self.fc_dp4 = _conv_gn(1024, 256, 16, upsample=2)
        self.fc_dp5 = _conv_gn(2048, 256, 16, upsample=2)
        self.fc_dp6 = _conv_gn(768, 256, 16, upsample=2)
        self.fc_dp7 = nn.Sequential(nn.Conv2d(448, 256, 1, bias=False), nn.GroupNorm(16, 256), nn.ReLU(inplace=True),
                                    nn.Conv2d(256, 2, 1, bias=False), self.mean_shift)
        self.backbone = nn.ModuleList([self.stage1, self.stage2, self.stage3, self.stage4, self.stage5])
        self.edge_layers = nn.ModuleList([getattr(self, f'fc_edge{i}') for i in range(1, 7)])
        self.dp_layers = nn.ModuleList([getattr(self, f'fc_dp{i}') for i in range(1, 8)])

    def forward(self, x):
        x1 = self.stage1(x)
        x2 = self.stage2(x1)
        x3 = self.stage3(x2)
        x4 = self.stage4(x3)
        x5 = self.stage5(x4)
        size = x2.shape[-2:]
        edges = [self.fc_edge1(x1), self.fc_edge2(x2)] + \
            [layer(f)[..., :size[0], :size[1]] for layer, f in ((self.fc_edge3, x3), (self.fc_edge4, x4),
                                                                (self.fc_edge5, x5))]
        edge_out = self.fc_edge6(torch.cat(edges, dim=1))
        dp3 = self.fc_dp3(x3)
        middle = dp3.shape[-2:]
        dp4 = self.fc_dp4(x4)[..., :middle[0], :middle[1]]
        dp5 = self.fc_dp5(x5)[..., :middle[0], :middle[1]]
        dp_up3 = self.fc_dp6(torch.cat([dp3, dp4, dp5], dim=1))[..., :size[0], :size[1]]
        dp_out = self.fc_dp7(torch.cat([self.fc_dp1(x1), self.fc_dp2(x2), dp_up3], dim=1))
        return edge_out, dp_out

    def edge_displacement(self, pair, crop_size=512, stride=4):
        """``EdgeDisplacement.forward``: image and flip padded to ``crop_size`` -> (boundary, displacement)."""
        feat_size = (pair.shape[2] - 1) // stride + 1, (pair.shape[3] - 1) // stride + 1
        pair = F.pad(pair, [0, crop_size - pair.shape[3], 0, crop_size - pair.shape[2]])
        edge_out, dp_out = self(pair)
        edge_out = edge_out[..., :feat_size[0], :feat_size[1]]
        dp_out = dp_out[..., :feat_size[0], :feat_size[1]]
        return torch.sigmoid(edge_out[0] / 2 + edge_out[1].flip(-1) / 2), dp_out[0]


class IRNLossNet(IRNNet):
    """``AffinityDisplacementLoss``'s extra buffers (what ``res50_irn.pth`` holds besides the Net's weights)."""

    def __init__(self, path_indices, search_dst):
        super().__init__()
        for index, indices in enumerate(path_indices):
            self.register_buffer(f'path_indices{index}', torch.as_tensor(indices))
        target = torch.as_tensor(search_dst).float().transpose(1, 0)
        self.register_buffer('disp_target', target[None, :, :, None])


def randomize_(net, seed=0):
    """Random normalisation parameters and statistics (defaults 1/0 would hide a swapped BN) and mean shift."""
    generator = torch.Generator().manual_seed(seed)

    def uniform(tensor, low, high):
        tensor.copy_(torch.rand(tensor.shape, generator=generator, dtype=tensor.dtype) * (high - low) + low)

    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, (nn.BatchNorm2d, nn.GroupNorm)):
                uniform(module.weight, 0.5, 1.5)
                uniform(module.bias, -0.2, 0.2)
            if isinstance(module, nn.BatchNorm2d):
                uniform(module.running_mean, -0.2, 0.2)
                uniform(module.running_var, 0.5, 1.5)
                module.num_batches_tracked.fill_(7)
            if isinstance(module, MeanShift):
                uniform(module.running_mean, -1.0, 1.0)
            if isinstance(module, nn.Conv2d) and module.bias is not None:
                uniform(module.bias, -0.1, 0.1)
    return net.eval()
