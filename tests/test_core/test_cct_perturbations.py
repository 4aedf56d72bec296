"""CCT's feature perturbations: shapes kept, features changed, each as the reference defines it."""
import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from advcam_mm.core import cct_perturbations as cp


def _features(seed=0, shape=(2, 8, 6, 6)):
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=generator) + 0.1  # positive, as after a ReLU


def _prediction_with_object(batch=2, size=48, num_classes=3):
    """Logits (B, K, size, size): a filled disk of class 1 (contour > 50 points) on background."""
    labels = np.zeros((batch, size, size), np.uint8)
    for b in range(batch):
        cv2.circle(labels[b], (size // 2, size // 2), size // 3, 1, -1)
    return F.one_hot(torch.from_numpy(labels).long(), num_classes).permute(0, 3, 1, 2).float() * 5


class _LinearDecoder(torch.nn.Module):
    def __init__(self, channels=8, classes=3):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(channels, classes, 1)

    def forward(self, x):
        return self.conv(x)


ALL_CASES = ['vat', 'drop', 'cutout', 'context_masking', 'object_masking', 'feature_drop', 'feature_noise']


@pytest.mark.parametrize('name', ALL_CASES)
def test_each_perturbation_keeps_shape_and_changes_features(name):
    torch.manual_seed(0)
    np.random.seed(0)
    x = _features()
    options = dict(vat=dict(xi=1e-6, eps=2.0), drop=dict(drop_rate=0.5)).get(name, {})
    out = cp.perturb(name, x, prediction=_prediction_with_object(), decoder=_LinearDecoder(), **options)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert not torch.allclose(out, x)
    assert torch.isfinite(out).all()


def test_perturbation_names_are_cct_config_keys():
    assert set(cp.PERTURBATION_NAMES) == set(ALL_CASES)
    with pytest.raises(ValueError, match='unknown CCT perturbation'):
        cp.perturb('gaussian', _features())
    with pytest.raises(ValueError, match='needs the main prediction'):
        cp.perturb('cutout', _features())
    with pytest.raises(ValueError, match='needs the decoder'):
        cp.perturb('vat', _features())
    with pytest.raises(ValueError, match=r'\(B, C, h, w\)'):
        cp.feature_noise(torch.ones(3, 4))


def test_feature_noise_is_multiplicative_uniform_and_shared_by_the_batch():
    x = _features(shape=(3, 4, 5, 5))
    out = cp.feature_noise(x, uniform_range=0.3, generator=torch.Generator().manual_seed(1))
    relative = (out - x) / x
    assert relative.abs().max() <= 0.3 + 1e-6 and relative.abs().max() > 0.1
    torch.testing.assert_close(relative[0], relative[1])  # one noise tensor for the batch
    torch.testing.assert_close(relative[0], relative[2])
    assert torch.equal(cp.feature_noise(x, uniform_range=0.0), x)


def test_feature_dropout_spatial_zeroes_whole_channels_and_rescales_the_rest():
    torch.manual_seed(0)
    x = _features(shape=(4, 32, 5, 5))
    out = cp.feature_dropout(x, drop_rate=0.5, spatial=True)
    zeroed = (out == 0).flatten(2).all(dim=2)  # (B, C) channels fully zero
    kept = ~zeroed
    assert zeroed.any() and kept.any()
    assert ((out == 0).flatten(2).any(dim=2) == zeroed).all()  # a channel is either all zero or untouched
    torch.testing.assert_close(out[kept], x[kept] * 2.0)
    elementwise = cp.feature_dropout(x, drop_rate=0.5, spatial=False)
    partly = (elementwise == 0).flatten(2).any(dim=2) & ~(elementwise == 0).flatten(2).all(dim=2)
    assert partly.any()


def test_feature_drop_zeroes_the_most_attended_positions():
    x = _features(shape=(2, 4, 6, 6))
    x[0, :, 2, 3] = 5.0  # a hot spot
    gamma = np.random.default_rng(3).uniform(0.7, 0.9)
    out = cp.feature_drop(x, rng=np.random.default_rng(3))
    attention = x.mean(1, keepdim=True)
    threshold = attention.flatten(1).max(1).values.view(-1, 1, 1, 1) * gamma
    expected = x * (attention < threshold).float()
    torch.testing.assert_close(out, expected)
    assert (out[0, :, 2, 3] == 0).all()
    assert (out[:, :, :, :] != 0).any()


def test_vat_noise_has_norm_eps_and_is_adversarial():
    torch.manual_seed(0)
    decoder = _LinearDecoder()
    x = _features(shape=(2, 8, 6, 6))
    r_adv = cp.vat_noise(x, decoder, xi=0.1, eps=0.5, generator=torch.Generator().manual_seed(0))
    assert r_adv.shape == x.shape and not r_adv.requires_grad
    torch.testing.assert_close(r_adv.flatten(1).norm(dim=1), torch.full((2, ), 0.5), rtol=1e-4, atol=1e-4)
    assert all(p.grad is None for p in decoder.parameters())  # no parameter gradient touched

    def kl(perturbation):
        with torch.no_grad():
            p = F.softmax(decoder(x), 1)
            return F.kl_div(F.log_softmax(decoder(x + perturbation), 1), p, reduction='batchmean').item()
    random_kls = []
    for seed in range(10):
        d = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed))
        random_kls.append(kl(d / d.flatten(1).norm(dim=1).view(-1, 1, 1, 1) * 0.5))
    assert kl(r_adv) > max(random_kls)
    # CCT's xi = 1e-6: the finite difference is near float32 resolution; the step is at most eps
    tiny_xi = cp.vat_noise(x, decoder, xi=1e-6, eps=2.0)
    assert torch.isfinite(tiny_xi).all() and (tiny_xi.flatten(1).norm(dim=1) <= 2.0 + 1e-4).all()


def test_vat_noise_works_under_no_grad_and_with_trainable_inputs():
    decoder = _LinearDecoder()
    x = _features().requires_grad_(True)
    with torch.no_grad():
        r_adv = cp.vat_noise(x, decoder)
    assert torch.isfinite(r_adv).all() and x.grad is None


def test_object_and_context_masking_split_the_features_by_the_prediction():
    x = _features(shape=(2, 8, 12, 12))
    prediction = _prediction_with_object(size=48)  # 4x the feature size
    objects = F.interpolate(cp.object_mask(prediction).unsqueeze(1), size=(12, 12), mode='nearest')
    assert 0 < objects.mean() < 1
    masked_objects = cp.object_masking(x, prediction)
    masked_context = cp.context_masking(x, prediction)
    torch.testing.assert_close(masked_objects + masked_context, x)
    torch.testing.assert_close(masked_context, x * objects)
    labels = prediction.argmax(1)  # labels (B, H, W) work the same as logits
    torch.testing.assert_close(cp.context_masking(x, labels), masked_context)


def test_guided_cutout_erases_a_box_of_erase_times_the_object_box():
    prediction = _prediction_with_object(batch=1, size=64)
    keep = cp.guided_cutout_mask(prediction, erase=0.4, rng=np.random.default_rng(0))[0]
    erased = (keep == 0).nonzero()
    objects = cp.object_mask(prediction)[0]
    ys, xs = objects.nonzero(as_tuple=True)
    box_h, box_w = int(ys.max() - ys.min()), int(xs.max() - xs.min())
    assert erased.numel() > 0
    height = int(erased[:, 0].max() - erased[:, 0].min()) + 1
    width = int(erased[:, 1].max() - erased[:, 1].min()) + 1
    assert (height, width) == (int(box_h * 0.4), int(box_w * 0.4))
    assert erased[:, 0].min() >= ys.min() and erased[:, 0].max() <= ys.max()
    assert erased[:, 1].min() >= xs.min() and erased[:, 1].max() <= xs.max()


def test_guided_cutout_leaves_small_objects_and_background_alone():
    labels = torch.zeros(1, 40, 40, dtype=torch.long)
    labels[0, 5:9, 5:9] = 2  # a square: 4 contour points with CHAIN_APPROX_SIMPLE, below 50
    assert (cp.guided_cutout_mask(labels) == 1).all()
    x = _features(shape=(1, 3, 10, 10))
    assert torch.equal(cp.guided_cutout(x, labels), x)
    empty = torch.zeros(1, 3, 40, 40)
    empty[:, 0] = 1  # all background
    assert torch.equal(cp.guided_cutout(x, empty), x)
