"""CCT's feature perturbations: what each auxiliary decoder sees instead of the encoder output.

Cross-consistency training (Ouali, Hudelot, Tami, CVPR 2020, Sec. 3.3; reference
code yassouali/CCT, ``models/decoders.py``) trains auxiliary decoders on
perturbed versions ``z~`` of the shared encoder output ``z`` and asks their
predictions to agree with the main decoder's prediction on ``z``. The
perturbations, named as in the paper, with the reference code's defaults:

=====================  ===================================  ======================================
paper                  function                             reference default
=====================  ===================================  ======================================
F-Noise                :func:`feature_noise`                ``uniform_range=0.3``
F-Drop                 :func:`feature_drop`                 threshold ``U(0.7, 0.9) * max``
DropOut                :func:`feature_dropout`              ``drop_rate=0.5``, spatial
I-VAT                  :func:`vat_noise`                    ``xi=1e-6``, ``eps=2.0``, 1 iteration
G-Cutout               :func:`guided_cutout`                ``erase=0.4``, contours > 50 points
Obj-Msk                :func:`object_masking`
Con-Msk                :func:`context_masking`
=====================  ===================================  ======================================

(The paper text samples F-Drop's threshold from ``U(0.6, 0.9)``; the released
code, followed here, uses ``U(0.7, 0.9)``.) All functions take and return
``(B, C, h, w)`` float tensors; the guided ones also take the main decoder's
prediction (logits ``(B, K, H, W)`` or labels ``(B, H, W)``, any resolution),
whose argmax > 0 (not background) is the object mask. Random draws use torch's
and numpy's global generators (seeded by the training framework) unless a
``generator`` / ``rng`` is given.
"""
from typing import Callable, Optional

import cv2
import numpy as np
import torch
import torch.nn.functional as F

#: The perturbation names of CCT's config (``drop`` = DropOut, ``cutout`` = G-Cutout).
PERTURBATION_NAMES = ('vat', 'drop', 'cutout', 'context_masking', 'object_masking', 'feature_drop',
                      'feature_noise')


def _check_features(x, name):
    if not torch.is_tensor(x) or x.dim() != 4:
        raise ValueError(f'{name}: features must be a (B, C, h, w) tensor, got '
                         f'{tuple(x.shape) if torch.is_tensor(x) else type(x).__name__}')


def feature_noise(x: torch.Tensor, uniform_range: float = 0.3,
                  generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """F-Noise: ``z + z * N`` with ``N ~ U(-r, r)`` of shape ``(C, h, w)``, shared by the batch.

    As the reference ``FeatureNoiseDecoder`` (one noise tensor per call,
    broadcast over the batch), so the noise scales with the activation.
    """
    _check_features(x, 'feature_noise')
    if uniform_range < 0:
        raise ValueError(f'feature_noise: uniform_range must be >= 0, got {uniform_range}')
    noise = torch.rand(x.shape[1:], generator=generator, dtype=x.dtype,
                       device='cpu' if generator is not None else x.device)
    noise = (noise.to(x.device) * 2 - 1) * uniform_range
    return x + x * noise.unsqueeze(0)


def feature_dropout(x: torch.Tensor, drop_rate: float = 0.5, spatial: bool = True) -> torch.Tensor:
    """DropOut: channel-wise (``spatial=True``, ``Dropout2d``) or element-wise dropout, always applied.

    The reference ``DropOutDecoder`` uses ``nn.Dropout2d(p=0.5)``; it is only
    called while training, so here dropout is always active.
    """
    _check_features(x, 'feature_dropout')
    if not 0 <= drop_rate < 1:
        raise ValueError(f'feature_dropout: drop_rate must be in [0, 1), got {drop_rate}')
    return F.dropout2d(x, drop_rate, training=True) if spatial else F.dropout(x, drop_rate, training=True)


def feature_drop(x: torch.Tensor, low: float = 0.7, high: float = 0.9,
                 rng: Optional[np.random.Generator] = None) -> torch.Tensor:
    """F-Drop: zero the most activated region of the intermediate features.

    The channel mean ``a`` of ``z`` is compared with ``gamma * max(a)``,
    ``gamma ~ U(low, high)`` drawn once per call (as the reference
    ``FeatureDropDecoder``); positions with ``a >= gamma * max(a)`` are dropped
    (all channels), so the decoder must predict from the less salient rest.
    """
    _check_features(x, 'feature_drop')
    if not 0 <= low <= high:
        raise ValueError(f'feature_drop: need 0 <= low <= high, got {low}, {high}')
    gamma = (rng.uniform(low, high) if rng is not None else np.random.uniform(low, high))
    attention = x.mean(dim=1, keepdim=True)
    max_value = attention.flatten(1).max(dim=1).values.view(-1, 1, 1, 1)
    keep = (attention < max_value * float(gamma)).to(x.dtype)
    return x * keep


def _l2_normalise_per_sample(d):
    norm = d.flatten(1).norm(dim=1).view(-1, *([1] * (d.dim() - 1)))
    return d / (norm + 1e-8)


def vat_noise(x: torch.Tensor, decoder: Callable[[torch.Tensor], torch.Tensor], xi: float = 1e-6,
              eps: float = 2.0, iterations: int = 1,
              generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """I-VAT: the adversarial perturbation ``r_adv`` (same shape as ``x``) of ``decoder`` at ``x``.

    Virtual adversarial training (Miyato et al.) on the encoder output, as
    the reference ``get_r_adv``: start from a random unit direction ``d``
    (per sample), take ``iterations`` power steps ``d <- normalise(grad_d
    KL(p(x) || p(x + xi d)))`` and return ``eps * d``; the auxiliary decoder
    then sees ``x + r_adv``. ``x`` is detached here and the gradient is taken
    with ``torch.autograd.grad`` with respect to ``d`` only, so no parameter
    gradient is touched (the reference calls ``backward`` and zeroes the
    decoder's gradients afterwards, which the result does not depend on).
    ``decoder`` maps ``(B, C, h, w)`` features to logits and should have no
    side effects (no BatchNorm statistics).

    Note: the reference normalises with ``d / (||d|| + 1e-8)``, kept here. With
    its ``xi = 1e-6`` the gradient norm is far below 1e-8 (it scales with
    ``xi^2``), so ``||r_adv||`` comes out much smaller than ``eps`` (about
    0.01 for random 512-channel features); a larger ``xi`` gives the full
    ``eps`` step.
    """
    _check_features(x, 'vat_noise')
    if iterations < 1:
        raise ValueError(f'vat_noise: iterations must be >= 1, got {iterations}')
    x_detached = x.detach()
    with torch.enable_grad():
        with torch.no_grad():
            target = F.softmax(decoder(x_detached), dim=1)
        d = torch.rand(x.shape, generator=generator, dtype=x.dtype,
                       device='cpu' if generator is not None else x.device).to(x.device) - 0.5
        d = _l2_normalise_per_sample(d)
        for _ in range(iterations):
            d = d.detach().requires_grad_(True)
            log_probs = F.log_softmax(decoder(x_detached + xi * d), dim=1)
            distance = F.kl_div(log_probs, target, reduction='batchmean')
            grad, = torch.autograd.grad(distance, d)
            d = _l2_normalise_per_sample(grad.detach())
    return (eps * d).detach()


def object_mask(prediction: torch.Tensor) -> torch.Tensor:
    """``(B, H, W)`` float mask of predicted objects (argmax > 0) from logits ``(B, K, H, W)`` or labels ``(B, H, W)``."""
    if prediction.dim() == 4:
        return (prediction.argmax(dim=1) > 0).float()
    if prediction.dim() == 3:
        return (prediction > 0).float()
    raise ValueError(f'prediction must be logits (B, K, H, W) or labels (B, H, W), got shape '
                     f'{tuple(prediction.shape)}')


def _resize_mask(mask, size):
    return F.interpolate(mask.unsqueeze(1), size=size, mode='nearest')


def _check_pair(x, prediction, name):
    _check_features(x, name)
    if prediction.shape[0] != x.shape[0]:
        raise ValueError(f'{name}: prediction batch {prediction.shape[0]} != features batch {x.shape[0]}')


def object_masking(x: torch.Tensor, prediction: torch.Tensor) -> torch.Tensor:
    """Obj-Msk: zero the features where the main prediction finds objects (the context stays).

    Reference ``ObjectMaskingDecoder``: ``x * (1 - M)`` with ``M`` the
    object mask, nearest-resized to the feature size.
    """
    _check_pair(x, prediction, 'object_masking')
    mask = _resize_mask(object_mask(prediction), x.shape[-2:]).to(x.dtype)
    return x * (1 - mask)


def context_masking(x: torch.Tensor, prediction: torch.Tensor) -> torch.Tensor:
    """Con-Msk: zero the context (predicted background); the objects stay.

    Reference ``ContextMaskingDecoder``: ``x * M`` with ``M`` the object
    mask, nearest-resized to the feature size.
    """
    _check_pair(x, prediction, 'context_masking')
    mask = _resize_mask(object_mask(prediction), x.shape[-2:]).to(x.dtype)
    return x * mask


def guided_cutout_mask(prediction: torch.Tensor, erase: float = 0.4, min_contour_points: int = 50,
                       rng: Optional[np.random.Generator] = None) -> torch.Tensor:
    """``(B, H, W)`` keep-mask of G-Cutout at the prediction's resolution (0 in the erased boxes).

    Reference ``guided_cutout``: for each external contour of the object
    mask (``cv2.findContours``, ``CHAIN_APPROX_SIMPLE``) with more than
    ``min_contour_points`` points, a box of ``erase`` times the contour's
    bounding box (each side) is erased at a random place inside that box.
    """
    if not 0 <= erase <= 1:
        raise ValueError(f'guided_cutout: erase must be in [0, 1], got {erase}')
    randint = (lambda high: int(rng.integers(0, high + 1))) if rng is not None else (
        lambda high: int(np.random.randint(0, high + 1)))
    objects = object_mask(prediction).cpu().numpy().astype(np.uint8)
    keep = np.ones_like(objects, dtype=np.float32)
    for index, mask in enumerate(objects):
        contours = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[-2]
        for contour in contours:
            if contour.shape[0] <= min_contour_points:
                continue
            points = contour.reshape(-1, 2)
            min_w, max_w = points[:, 0].min(), points[:, 0].max()
            min_h, max_h = points[:, 1].min(), points[:, 1].max()
            box_w, box_h = int(max_w - min_w), int(max_h - min_h)
            start_w = min_w + randint(int(box_w * (1 - erase)))
            start_h = min_h + randint(int(box_h * (1 - erase)))
            keep[index, start_h:start_h + int(box_h * erase), start_w:start_w + int(box_w * erase)] = 0
    return torch.from_numpy(keep).to(prediction.device)


def guided_cutout(x: torch.Tensor, prediction: torch.Tensor, erase: float = 0.4,
                  min_contour_points: int = 50, rng: Optional[np.random.Generator] = None) -> torch.Tensor:
    """G-Cutout: zero a random part of each predicted object (see :func:`guided_cutout_mask`).

    The keep-mask is nearest-resized to the feature size, as the reference
    ``CutOutDecoder``.
    """
    _check_pair(x, prediction, 'guided_cutout')
    keep = guided_cutout_mask(prediction, erase, min_contour_points, rng)
    return x * _resize_mask(keep, x.shape[-2:]).to(x.dtype)


def perturb(name: str, x: torch.Tensor, prediction: Optional[torch.Tensor] = None,
            decoder: Optional[Callable] = None, **kwargs) -> torch.Tensor:
    """Apply the perturbation ``name`` (one of :data:`PERTURBATION_NAMES`) with its options.

    ``vat`` needs ``decoder`` (returns ``x + r_adv``); ``cutout``,
    ``context_masking`` and ``object_masking`` need ``prediction``.
    """
    if name == 'vat':
        if decoder is None:
            raise ValueError("perturbation 'vat' needs the decoder")
        return x + vat_noise(x, decoder, **kwargs)
    if name in ('cutout', 'context_masking', 'object_masking') and prediction is None:
        raise ValueError(f'perturbation {name!r} needs the main prediction')
    if name == 'drop':
        return feature_dropout(x, **kwargs)
    if name == 'cutout':
        return guided_cutout(x, prediction, **kwargs)
    if name == 'context_masking':
        return context_masking(x, prediction, **kwargs)
    if name == 'object_masking':
        return object_masking(x, prediction, **kwargs)
    if name == 'feature_drop':
        return feature_drop(x, **kwargs)
    if name == 'feature_noise':
        return feature_noise(x, **kwargs)
    raise ValueError(f'unknown CCT perturbation {name!r}; expected one of {PERTURBATION_NAMES}')
