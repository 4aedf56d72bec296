"""BalancedCrossEntropyLoss (DSRG's seeding loss, AdvCAM #9): known answers on hand-made logits and labels."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData

import advcam_mm  # noqa: F401  (registers the components)
from advcam_mm.models.losses import BalancedCrossEntropyLoss, balanced_cross_entropy
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

LN2, LN3 = math.log(2), math.log(3)
X = 7.0  # logits of the ignored pixel: must not matter


def hand_made_image():
    """3 classes, 2x3 pixels: 1 background, 4 foreground (classes 1 and 2), 1 ignored.

    Per pixel the logits are chosen so that -log p(label) is known:
    (ln 3, 0, 0) -> p0 = 3/5; (0, 0, 0) -> 1/3; (0, ln 2, 0) -> p1 = 1/2; (0, 0, ln 6) -> p2 = 3/4.
    """
    labels = torch.tensor([[0, 1, 1],
                           [1, 2, 255]])
    logits = torch.zeros(3, 2, 3)
    logits[0, 0, 0] = LN3                 # background pixel, -log p = ln(5/3)
    logits[1, 0, 2] = LN2                 # class 1, -log p = ln 2
    logits[2, 1, 1] = math.log(6)         # class 2, -log p = ln(4/3)
    logits[:, 1, 2] = torch.tensor([X, -X, 0.0])  # ignored
    # (0,1) and (1,0): all zero -> class 1 with -log p = ln 3
    background = math.log(5 / 3)
    foreground = [LN3, LN2, LN3, math.log(4 / 3)]
    return logits, labels, background, foreground


def test_known_answer_differs_from_plain_cross_entropy():
    logits, labels, background, foreground = hand_made_image()
    expected = background / 1 + sum(foreground) / 4  # each set averaged over its own pixels, then added
    plain = (background + sum(foreground)) / 5          # every labelled pixel weighs the same
    loss = balanced_cross_entropy(logits[None], labels[None])
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert F.cross_entropy(logits[None], labels[None], ignore_index=255).item() == pytest.approx(plain, rel=1e-6)
    assert abs(expected - plain) > 0.5  # 1.305 vs 0.738: plain CE would fail the first assertion


def test_batch_mean_over_images_and_empty_sets():
    logits, labels, background, foreground = hand_made_image()
    only_background = torch.tensor([[0, 0, 255], [0, 0, 0]])   # no foreground: its term is 0
    nothing = torch.full((2, 3), 255)                           # nothing labelled: 0
    batch_logits = torch.stack([logits, torch.zeros(3, 2, 3), torch.randn(3, 2, 3)])
    batch_labels = torch.stack([labels, only_background, nothing])
    per_image = balanced_cross_entropy(batch_logits, batch_labels, reduction='none')
    first = background + sum(foreground) / 4
    assert per_image.tolist() == pytest.approx([first, LN3, 0.0], rel=1e-6)
    # DSRG's T.mean over the batch: the empty image still counts
    assert balanced_cross_entropy(batch_logits, batch_labels).item() == pytest.approx((first + LN3) / 3, rel=1e-6)
    assert balanced_cross_entropy(batch_logits, batch_labels, reduction='sum').item() == pytest.approx(first + LN3)


def test_gradient_only_from_labelled_pixels_and_finite_on_empty_batch():
    logits, labels, _, _ = hand_made_image()
    logits = logits[None].clone().requires_grad_(True)
    balanced_cross_entropy(logits, labels[None]).backward()
    assert torch.all(logits.grad[0, :, 1, 2] == 0)  # the ignored pixel
    # the background pixel weighs 1/1, each foreground pixel 1/4: gradient of -log p0 at (0, 0) is p - onehot
    p = torch.softmax(logits.detach()[0, :, 0, 0], 0)
    assert torch.allclose(logits.grad[0, :, 0, 0], p - torch.tensor([1.0, 0, 0]))
    p = torch.softmax(logits.detach()[0, :, 0, 1], 0)
    assert torch.allclose(logits.grad[0, :, 0, 1], (p - torch.tensor([0, 1.0, 0])) / 4)
    empty = torch.zeros(1, 3, 2, 3, requires_grad=True)
    loss = balanced_cross_entropy(empty, torch.full((1, 2, 3), 255))
    loss.backward()
    assert loss.item() == 0 and torch.all(empty.grad == 0)


def test_registered_loss_in_a_decode_head():
    """As a DeepLab-v2 config uses it: loss_decode of the ASPP-v2 head, ignore index from the head."""
    head = MODELS.build(dict(type='ASPPV2Head', in_channels=4, num_classes=3, dilations=(1, ),
                             loss_decode=dict(type='BalancedCrossEntropyLoss', loss_weight=2.0)))
    logits, labels, background, foreground = hand_made_image()
    sample = SegDataSample()
    sample.gt_sem_seg = PixelData(data=labels[None])
    losses = head.loss_by_feat(logits[None], [sample])
    assert losses['loss_balanced_ce'].item() == pytest.approx(2.0 * (background + sum(foreground) / 4), rel=1e-6)
    loss = MODELS.build(dict(type='BalancedCrossEntropyLoss', loss_name='loss_seed'))
    assert isinstance(loss, BalancedCrossEntropyLoss) and loss.loss_name == 'loss_seed'


def test_bad_input_is_named():
    logits, labels, _, _ = hand_made_image()
    with pytest.raises(ValueError, match='same size'):
        balanced_cross_entropy(logits[None], labels[None, :1])
    with pytest.raises(ValueError, match='outside 0..2'):
        balanced_cross_entropy(logits[None], torch.full((1, 2, 3), 3))
    with pytest.raises(ValueError, match='pixel weights'):
        BalancedCrossEntropyLoss()(logits[None], labels[None], weight=torch.ones(1, 2, 3))
