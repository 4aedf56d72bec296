import pytest
import torch

from advcam_mm.core.advcam import adv_climb, advcam_maps, scale_order, scale_schedule
from advcam_mm.core.cam import multiscale_cam

from .cam_reference import reference_advcam_maps, reference_climb, tiny_net

NUM_CLASSES = 6


@pytest.fixture(scope='module')
def setup():
    net = tiny_net()
    torch.manual_seed(1)
    weight = torch.randn(NUM_CLASSES, 16, dtype=torch.float64)
    image = torch.randn(3, 24, 32, dtype=torch.float64)
    return net, weight, image


@pytest.mark.parametrize('flip', [True, False])
@pytest.mark.parametrize('mask_coef', [7.0, 0.0])
def test_adv_climb_equals_one_class_at_a_time_reference(setup, flip, mask_coef):
    net, weight, image = setup
    class_ids = [0, 2, 5]
    got, history = adv_climb(net, weight, image, class_ids, steps=6, mask_coef=mask_coef, flip=flip,
                             return_history=True)
    assert got.shape == (3, 6, 8) and history['maps'].shape == (6, 3, 6, 8)
    for row, class_id in enumerate(class_ids):
        expected, expected_maps, expected_scores = reference_climb(net, weight, image, class_id, 6,
                                                                   mask_coef=mask_coef, flip=flip)
        assert expected.max() > 0
        torch.testing.assert_close(got[row], expected, rtol=1e-9, atol=1e-12)
        torch.testing.assert_close(history['maps'][:, row], expected_maps, rtol=1e-9, atol=1e-12)
        torch.testing.assert_close(history['scores'][:, row, :, class_id], expected_scores, rtol=1e-9, atol=1e-12)


def test_trajectories_are_independent_and_chunking_changes_nothing(setup):
    net, weight, image = setup
    together = adv_climb(net, weight, image, [1, 3, 4], steps=5)
    alone = torch.cat([adv_climb(net, weight, image, [c], steps=5) for c in (1, 3, 4)])
    torch.testing.assert_close(together, alone, rtol=1e-10, atol=1e-13)
    for max_batch in (1, 2, 5):  # 1 class per chunk (a cap below one trajectory still climbs), then 2
        torch.testing.assert_close(adv_climb(net, weight, image, [1, 3, 4], steps=5, max_batch=max_batch),
                                   together, rtol=1e-10, atol=1e-13)
    repeated = adv_climb(net, weight, image, [3, 3], steps=5)
    torch.testing.assert_close(repeated[0], repeated[1], rtol=0, atol=0)


def test_one_step_is_the_map_without_climbing(setup):
    net, weight, image = setup
    one_step = adv_climb(net, weight, image, [0, 4], steps=1)
    _, history = adv_climb(net, weight, image, [0, 4], steps=4, return_history=True)
    torch.testing.assert_close(one_step, history['maps'][0], rtol=0, atol=0)
    assert not torch.allclose(history['maps'][3], history['maps'][0])  # climbing moved the map
    # Without flip the per-view factor is 1/P_c at every scale: multi-scale CAM after normalisation.
    maps = advcam_maps(net, weight, image, [0, 4], steps=1, flip=False)
    cams = multiscale_cam(net, weight, image, [0, 4], flip=False)
    torch.testing.assert_close(maps['strided'], cams['strided'], rtol=1e-3, atol=1e-4)
    torch.testing.assert_close(maps['high_res'], cams['high_res'], rtol=1e-3, atol=1e-4)


def test_target_logit_rises_step_by_step(setup):
    net, weight, image = setup
    class_ids = list(range(NUM_CLASSES))
    _, history = adv_climb(net, weight, image, class_ids, steps=8, mask_coef=0.0, return_history=True)
    scores = history['scores']  # (steps, C, V, K)
    for row, class_id in enumerate(class_ids):
        target = scores[:, row, :, class_id].sum(1)
        margin = (2 * scores[:, row, :, class_id] - scores[:, row].sum(2)).sum(1)  # the climbed objective
        assert (margin.diff() > 0).all(), margin
        assert target[-1] > target[0], target


def test_restriction_keeps_masked_region_close_to_initial_map(setup):
    net, weight, image = setup
    class_ids = list(range(NUM_CLASSES))
    drift = {}
    for mask_coef in (0.0, 7.0):
        _, history = adv_climb(net, weight, image, class_ids, steps=8, mask_coef=mask_coef, return_history=True)
        maps, masks = history['maps'], history['masks']
        drift[mask_coef] = ((maps[1:] - maps[0]).abs() * masks[1:]).sum((0, 2, 3))  # sum_t M_t |R_t - R_0|
        assert masks.any((2, 3)).all()
    assert (drift[7.0] < drift[0.0]).all(), drift


def test_clamping_keeps_each_trajectory_within_its_bounds(setup):
    net, weight, image = setup
    images = []
    adv_climb(net, weight, image, [0, 1, 2], steps=6, step_size=4.0,
              step_callback=lambda t, state: images.append(state['images'].clone()))
    assert len(images) == 6 and images[0].shape == (3, 2, 3, 24, 32)
    clamped = 0
    for before, after in zip(images[:-1], images[1:]):
        lower = before.flatten(1).amin(1)
        upper = before.flatten(1).amax(1)
        assert (after.flatten(1).amin(1) >= lower).all() and (after.flatten(1).amax(1) <= upper).all()
        clamped += int((after.flatten(1) == lower[:, None]).sum() + (after.flatten(1) == upper[:, None]).sum())
    assert clamped > 3 * 5 * 2  # more than the untouched extremes: the clamp was active


def test_no_parameter_gradient_and_works_under_no_grad(setup):
    net, weight, image = setup
    weight = weight.clone().requires_grad_(True)
    assert all(p.requires_grad for p in net.parameters())
    expected = adv_climb(net, weight, image, [2], steps=3)
    with torch.no_grad():
        got = adv_climb(net, weight, image, [2], steps=3)
        advcam_maps(net, weight, image, [2], steps=3, scales=(1.0, 0.5))
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    assert all(p.grad is None for p in net.parameters()) and weight.grad is None


@pytest.mark.parametrize('steps', [12, 7, 3])
def test_advcam_maps_equals_reference_loop(setup, steps):
    """Scale order, the 0.5-scale schedule, persistent mul_for_scale, flip and aggregation."""
    net, weight, _ = setup
    torch.manual_seed(2)
    image = torch.randn(3, 25, 34, dtype=torch.float64)
    scales, class_ids = (1.0, 0.5, 1.5, 2.0), [3, 0]
    expected_strided, expected_high_res = reference_advcam_maps(net, weight, image, class_ids, scales, steps)
    got = advcam_maps(net, weight, image, class_ids, scales, steps=steps)
    assert got['keys'].tolist() == class_ids and got['keys'].dtype == torch.int64
    assert got['strided'].shape == (2, 7, 9) and got['high_res'].shape == (2, 25, 34)
    torch.testing.assert_close(got['strided'], expected_strided, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(got['high_res'], expected_high_res, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(advcam_maps(net, weight, image, class_ids, scales, steps=steps, max_batch=2)['high_res'],
                               got['high_res'], rtol=1e-10, atol=1e-13)


def test_scale_order_and_schedule():
    assert scale_order(4) == [1, 0, 2, 3] and scale_order(2) == [1, 0] and scale_order(1) == [0]
    assert scale_schedule(27) == (13, 2.0)
    assert scale_schedule(11) == (5, 2.0)
    assert scale_schedule(10) == (5, 1.0) and scale_schedule(6) == (5, 1.0)
    assert scale_schedule(5) == (5, 1.0) and scale_schedule(1) == (1, 1.0)


def test_bf16_autocast_runs_and_is_close(setup):
    net, weight, image = setup
    net32 = tiny_net(dtype=torch.float32)
    weight32, image32 = weight.float(), image.float()
    reference = adv_climb(net32, weight32, image32, [0, 2, 5], steps=3, mask_coef=0.0)
    reference_first = adv_climb(net32, weight32, image32, [0, 2, 5], steps=1)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        got = adv_climb(net32, weight32, image32, [0, 2, 5], steps=3, mask_coef=0.0)
        got_first = adv_climb(net32, weight32, image32, [0, 2, 5], steps=1)
        maps = advcam_maps(net32, weight32, image32, [0, 2, 5], steps=3, scales=(1.0, 0.5))
    assert got.dtype == torch.float32 and maps['high_res'].dtype == torch.float32
    assert torch.isfinite(maps['high_res']).all()

    def relative(a, b):
        return ((a - b).abs().sum() / b.abs().sum()).item()

    assert relative(got_first, reference_first) < 0.05
    assert relative(got, reference) < 0.1


def test_bad_input_and_empty_classes(setup):
    net, weight, image = setup
    with pytest.raises(ValueError, match='image must be'):
        adv_climb(net, weight, image[None], [0])
    with pytest.raises(ValueError, match='out of range'):
        adv_climb(net, weight, image, [NUM_CLASSES])
    with pytest.raises(ValueError, match='steps'):
        adv_climb(net, weight, image, [0], steps=0)
    assert adv_climb(net, weight, image, [], steps=2).shape == (0, 6, 8)
    empty = advcam_maps(net, weight, image, [], steps=2)
    assert empty['strided'].shape == (0, 6, 8) and empty['high_res'].shape == (0, 24, 32)
