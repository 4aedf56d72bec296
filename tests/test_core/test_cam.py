import pytest
import torch
import torch.nn.functional as F

from advcam_mm.core.cam import (aggregate_scale_maps, class_maps, gradcam_scaled_attribution, multiscale_cam,
                                positive_weight_count, rescale_image)

from .cam_reference import reference_aggregate, reference_gradcam, reference_rescale, tiny_net


@pytest.mark.parametrize('flip', [True, False])
@pytest.mark.parametrize('signed_features', [False, True])
def test_closed_form_equals_gradcam_backward(flip, signed_features):
    """The closed form and its gradient equal gradCAM.py's map from a real backward."""
    torch.manual_seed(0)
    num_views = 2 if flip else 1
    features = torch.randn(num_views, 12, 5, 7, dtype=torch.float64)
    if not signed_features:
        features = F.relu(features)
    features.requires_grad_(True)
    weight = torch.randn(4, 12, dtype=torch.float64)
    probe = torch.randn(5, 7, dtype=torch.float64)
    for class_id in range(4):
        logits = class_maps(features, weight)
        expected = reference_gradcam(features, logits, class_id, flip)[0]
        expected_grad, = torch.autograd.grad((expected * probe).sum(), features)
        target = class_maps(features, weight)[:, class_id][None]
        flipped = (False, True) if flip else None
        got = gradcam_scaled_attribution(target, positive_weight_count(weight)[[class_id]], flipped)[0]
        got_grad, = torch.autograd.grad((got * probe).sum(), features)
        assert expected.abs().max() > 0
        torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-13)
        torch.testing.assert_close(got_grad, expected_grad, rtol=1e-10, atol=1e-13)


def test_attribution_of_an_absent_class_is_zero():
    target = -torch.rand(1, 2, 3, 3)
    out = gradcam_scaled_attribution(target, torch.tensor([5]), (False, True))
    assert torch.equal(out, torch.zeros(1, 3, 3))


def test_class_maps_accepts_conv_kernel_and_checks_shapes():
    features = torch.randn(2, 6, 3, 4)
    weight = torch.randn(3, 6)
    expected = torch.einsum('bdhw,kd->bkhw', features, weight)
    torch.testing.assert_close(class_maps(features, weight), expected)
    torch.testing.assert_close(class_maps(features, weight[:, :, None, None]), expected)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        assert class_maps(features.bfloat16(), weight).dtype == torch.float32
    with pytest.raises(ValueError, match='features must be'):
        class_maps(torch.randn(2, 5, 3, 4), weight)
    with pytest.raises(ValueError, match='weight must be'):
        class_maps(features, torch.randn(3, 6, 3, 3))


def test_rescale_image_uses_numpy_rounding():
    image = torch.randn(3, 25, 34)
    assert rescale_image(image, 1.0) is image
    for scale in (0.5, 1.5, 2.0):
        torch.testing.assert_close(rescale_image(image, scale), reference_rescale(image, scale))
    assert rescale_image(image, 0.5).shape == (3, 12, 17)  # 12.5 rounds half to even


def test_aggregate_scale_maps_equals_reference():
    torch.manual_seed(0)
    size = (25, 34)
    maps = [torch.rand(3, 7, 9), torch.rand(3, 4, 5), torch.rand(3, 10, 13), torch.rand(3, 13, 17)]
    strided, high_res = aggregate_scale_maps(maps, size)
    expected_strided, expected_high_res = reference_aggregate([m.clone() for m in maps], size)
    assert strided.shape == (3, 7, 9) and high_res.shape == (3, 25, 34)
    torch.testing.assert_close(strided, expected_strided)
    torch.testing.assert_close(high_res, expected_high_res)


def test_multiscale_cam_equals_irn_make_cam():
    net = tiny_net()
    torch.manual_seed(1)
    weight = torch.randn(5, 16, dtype=torch.float64)
    image = torch.randn(3, 25, 34, dtype=torch.float64)
    scales = (1.0, 0.5, 1.5, 2.0)
    keys = [4, 1]
    outputs = []
    for scale in scales:  # IRN make_cam: model(img) = relu(S)[0] + relu(S)[1].flip(-1)
        img = reference_rescale(image, scale)
        x = F.relu(F.conv2d(net(torch.stack([img, img.flip(-1)])), weight[:, :, None, None]))
        outputs.append((x[0] + x[1].flip(-1))[keys])
    expected_strided, expected_high_res = reference_aggregate(outputs, image.shape[1:])
    got = multiscale_cam(net, weight, image, keys, scales)
    assert got['keys'].tolist() == keys
    torch.testing.assert_close(got['strided'], expected_strided)
    torch.testing.assert_close(got['high_res'], expected_high_res)
