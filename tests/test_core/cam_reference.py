"""Straightforward versions of the reference's (jbeomlee93/AdvCAM, IRN) CAM code, for tests.

Written to read like ``obtain_CAM_masking.py`` / ``gradCAM.py`` / IRN's
``make_cam.py``: one class at a time, the Grad-CAM map from a real backward to
the last stage, literal loops. Not used by the package.
"""
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def tiny_net(seed=0, dtype=torch.float64, width=16):
    """A small conv net with BatchNorm (eval mode, non-trivial statistics), output stride 4."""
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, width, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
        nn.Conv2d(width, width, 3, padding=1), nn.ReLU())
    for module in net.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
    return net.to(dtype).eval()


def reference_gradcam(features, logits, class_id, flip):
    """``gradCAM.py``: backward of the gsp2d logit of ``class_id`` to the features, gap2d_pos weights."""
    logits_vec = F.relu(logits).sum((2, 3))  # gsp2d
    grads, = torch.autograd.grad(logits_vec[:, class_id].sum(), features, retain_graph=True)
    weights = grads.sum((2, 3), keepdim=True) / ((grads > 0).sum() + 1e-12)  # gap2d_pos
    gcam = F.relu((features * weights).sum(1, keepdim=True))  # (V, 1, h, w)
    return gcam[0] + gcam[1].flip(-1) if flip else gcam[0]  # regions, (1, h, w)


def reference_climb(net, weight, image, class_id, steps, step_size=0.08, mask_thresh=0.5, mask_coef=7.0,
                    flip=True):
    """One class as ``obtain_CAM_masking.py`` climbs it; returns (accumulated map, per-step maps, per-step y_c)."""
    img = (torch.stack([image, image.flip(-1)]) if flip else image[None]).clone()
    accumulated, maps, target_scores = 0, [], []
    init_cam = None
    for it in range(steps):
        img.requires_grad_(True)
        features = net(img)
        logits = F.conv2d(features, weight[:, :, None, None])
        regions = reference_gradcam(features, logits, class_id, flip)
        if it == 0:
            init_cam = regions.detach()
        accumulated = accumulated + regions[0].detach()
        maps.append(regions[0].detach())
        logit = F.relu(logits).mean((2, 3))  # gap2d
        target_scores.append(logit[:, class_id].detach())
        logit_loss = -2 * logit[:, class_id].sum() + logit.sum()
        expanded_mask = torch.zeros(regions.shape, dtype=regions.dtype)
        expanded_mask[regions / regions.max() > mask_thresh] = 1
        l_ad = (torch.abs(regions - init_cam) * expanded_mask).sum()
        loss = -logit_loss - l_ad * mask_coef
        data_grad, = torch.autograd.grad(loss, img)
        perturbed = img + step_size * (data_grad / (data_grad.abs().max() + 1e-12))
        img = torch.clamp(perturbed, img.min().item(), img.max().item()).detach()
    return accumulated, torch.stack(maps), torch.stack(target_scores)


def reference_rescale(image, scale):
    """Resize to IRN's ``pil_rescale`` size (numpy rounding), bilinear on the tensor."""
    size = (int(np.round(image.shape[1] * scale)), int(np.round(image.shape[2] * scale)))
    return F.interpolate(image[None], size, mode='bilinear', align_corners=False)[0]


def reference_aggregate(outputs_cam, size):
    """The aggregation at the end of ``obtain_CAM_masking.py`` / IRN ``make_cam.py``."""
    strided_size = (int(np.ceil(size[0] / 4)), int(np.ceil(size[1] / 4)))
    strided_up_size = (int(np.ceil(size[0] / 16) * 16), int(np.ceil(size[1] / 16) * 16))
    strided_cam = torch.sum(torch.stack([
        F.interpolate(torch.unsqueeze(o, 0), strided_size, mode='bilinear', align_corners=False)[0]
        for o in outputs_cam]), 0)
    highres_cam = [F.interpolate(torch.unsqueeze(o, 1), strided_up_size, mode='bilinear', align_corners=False)
                   for o in outputs_cam]
    highres_cam = torch.sum(torch.stack(highres_cam, 0), 0)[:, 0, :size[0], :size[1]]
    strided_cam /= F.adaptive_max_pool2d(strided_cam, (1, 1)) + 1e-5
    highres_cam /= F.adaptive_max_pool2d(highres_cam, (1, 1)) + 1e-5
    return strided_cam, highres_cam


def reference_advcam_maps(net, weight, image, class_ids, scales, steps):
    """``obtain_CAM_masking.py``'s loop over scales (its order) and classes; returns (strided, high_res)."""
    outputs_cam = []
    for size_idx in [1, 0, *range(2, len(scales))] if len(scales) > 1 else [0]:
        img = reference_rescale(image, scales[size_idx])
        cam_all_classes = []
        for c in class_ids:
            if size_idx != 1:
                total_adv_iter = steps
            elif steps > 10:
                total_adv_iter, mul_for_scale = steps // 2, 2
            elif steps < 6:
                total_adv_iter, mul_for_scale = steps, 1
            else:
                total_adv_iter, mul_for_scale = 5, 1
            _, maps, _ = reference_climb(net, weight, img, c, total_adv_iter)
            cam_all_classes.append((maps * mul_for_scale).sum(0))
        outputs_cam.append(torch.stack(cam_all_classes))
    return reference_aggregate(outputs_cam, image.shape[1:])
