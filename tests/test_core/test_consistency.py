"""CCT's consistency loss, ramp-up schedules and annealed-bootstrapped cross-entropy."""
import math

import pytest
import torch
import torch.nn.functional as F

from advcam_mm.core.consistency import (annealed_bootstrapped_cross_entropy, annealed_threshold,
                                        consistency_weight, log_rampup, sigmoid_rampup, softmax_mse_loss)


def test_consistency_loss_is_zero_when_decoders_agree():
    logits = torch.randn(2, 5, 7, 7)
    assert softmax_mse_loss(logits, F.softmax(logits, 1)).item() == pytest.approx(0.0, abs=1e-12)
    assert softmax_mse_loss(logits + 3.0, F.softmax(logits, 1)).item() == pytest.approx(0.0, abs=1e-12)


def test_consistency_loss_is_the_mean_squared_softmax_difference():
    torch.manual_seed(0)
    aux, main = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    target = F.softmax(main, 1)
    expected = ((F.softmax(aux, 1) - target) ** 2).sum() / aux.numel()
    assert softmax_mse_loss(aux, target).item() == pytest.approx(expected.item(), rel=1e-6)
    aux.requires_grad_(True)
    target.requires_grad_(True)
    softmax_mse_loss(aux, target).backward()
    assert aux.grad is not None and target.grad is None  # the main prediction is a constant


def test_consistency_loss_confidence_masking_and_resizing():
    aux = torch.zeros(1, 2, 2, 2)
    target = torch.tensor([[[[0.9, 0.5], [0.5, 0.5]], [[0.1, 0.5], [0.5, 0.5]]]])
    # only the top-left position is confident: (0.5-0.9)^2 and (0.5-0.1)^2 -> mean 0.16
    assert softmax_mse_loss(aux, target, confidence_threshold=0.6).item() == pytest.approx(0.16)
    assert softmax_mse_loss(aux, target, confidence_threshold=0.95).item() == 0.0
    big = softmax_mse_loss(torch.zeros(1, 2, 8, 8), F.softmax(torch.zeros(1, 2, 4, 4), 1))
    assert big.item() == pytest.approx(0.0)
    with pytest.raises(ValueError, match='softmax_mse_loss'):
        softmax_mse_loss(torch.zeros(1, 2, 4, 4), torch.zeros(1, 3, 4, 4))


def test_sigmoid_rampup_follows_its_schedule():
    assert sigmoid_rampup(0, 100) == pytest.approx(math.exp(-5))
    assert sigmoid_rampup(50, 100) == pytest.approx(math.exp(-5 * 0.25))
    assert sigmoid_rampup(100, 100) == 1.0 and sigmoid_rampup(500, 100) == 1.0
    assert sigmoid_rampup(-3, 100) == pytest.approx(math.exp(-5))
    assert sigmoid_rampup(7, 0) == 1.0
    values = [sigmoid_rampup(t, 100) for t in range(101)]
    assert all(a < b for a, b in zip(values, values[1:]))


def test_consistency_weight_ramps_to_the_final_weight():
    assert consistency_weight(0, 7296, 30.0) == pytest.approx(30 * math.exp(-5))
    assert consistency_weight(3648, 7296, 30.0) == pytest.approx(30 * math.exp(-1.25))
    assert consistency_weight(7296, 7296, 30.0) == 30.0
    assert consistency_weight(72959, 7296, 30.0) == 30.0
    assert consistency_weight(5, 100, 30.0, rampup_start=10) == 0.0
    assert consistency_weight(55, 100, 30.0, rampup_start=10) == pytest.approx(30 * math.exp(-5 * 0.25))


def test_annealed_threshold_rises_from_one_over_k_to_end():
    assert annealed_threshold(0, 1000, 21) == pytest.approx(1 / 21)
    assert annealed_threshold(1000, 1000, 21) == pytest.approx(1 / 21 + (1 - math.exp(-5)) * (0.9 - 1 / 21))
    assert annealed_threshold(500, 1000, 21) == pytest.approx(1 / 21 + log_rampup(500, 1000) * (0.9 - 1 / 21))
    assert log_rampup(500, 1000) == pytest.approx(1 - math.exp(-2.5))
    assert annealed_threshold(5, 0, 21) == pytest.approx(0.9)


def _ab_ce_reference(logits, target, threshold, min_kept, ignore_index=255):
    """Pixel by pixel: keep labelled pixels with true-class probability below max(threshold, floor)."""
    probs = F.softmax(logits, 1)
    values, losses = [], []
    for b in range(target.shape[0]):
        for y in range(target.shape[1]):
            for x in range(target.shape[2]):
                label = int(target[b, y, x])
                if label == ignore_index:
                    continue
                values.append(float(probs[b, label, y, x]))
                losses.append(-float(F.log_softmax(logits[b, :, y, x], 0)[label]))
    order = sorted(range(len(values)), key=lambda i: values[i])
    floor = values[order[min(min_kept * target.shape[0], len(values) - 1)]]
    kept = [losses[i] for i in range(len(values)) if values[i] < max(floor, threshold)]
    return sum(kept) / len(kept) if kept else 0.0


def test_ab_ce_equals_a_pixel_by_pixel_version():
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 5, 6) * 2
    target = torch.randint(0, 4, (2, 5, 6))
    target[0, 0, :3] = 255
    for threshold, min_kept in ((0.3, 1), (0.6, 1), (0.05, 10), (1.1, 1)):
        got = annealed_bootstrapped_cross_entropy(logits, target, threshold, min_kept=min_kept)
        assert got.item() == pytest.approx(_ab_ce_reference(logits, target, threshold, min_kept), rel=1e-5)
    everything = annealed_bootstrapped_cross_entropy(logits, target, 1.1)
    assert everything.item() == pytest.approx(F.cross_entropy(logits, target, ignore_index=255).item(), rel=1e-5)


def test_ab_ce_edge_cases():
    logits = torch.randn(1, 3, 2, 2, requires_grad=True)
    ignored = torch.full((1, 2, 2), 255)
    loss = annealed_bootstrapped_cross_entropy(logits, ignored, 0.5)
    assert loss.item() == 0.0
    loss.backward()  # still differentiable
    with pytest.raises(ValueError, match='ab-CE'):
        annealed_bootstrapped_cross_entropy(logits, torch.zeros(1, 3, 3, dtype=torch.long), 0.5)
