"""The maps of every AdvCAM iteration from one climb equal ``advcam_maps(steps=t)`` (the paper's Fig. 6 from one run)."""
import numpy as np
import pytest
import torch

from advcam_mm.core.advcam import advcam_maps
from advcam_mm.core.advcam import advcam_prefix_maps, prefix_schedule
from test_core.cam_reference import tiny_net


@pytest.mark.parametrize('steps', [7, 12])
def test_prefix_maps_are_advcam_maps_of_every_iteration(steps):
    """t = steps and earlier t, through both branches of the 0.5 scale's schedule (5 steps; half, x2)."""
    net = tiny_net()
    torch.manual_seed(0)
    weight = torch.randn(4, 16, dtype=torch.float64)
    image = torch.randn(3, 20, 28, dtype=torch.float64)
    scales = (1.0, 0.5, 1.5)
    prefix = advcam_prefix_maps(net, weight, image, [0, 2], scales=scales, steps=steps)
    assert prefix['high_res'].shape == (steps, 2, 20, 28) and prefix['strided'].shape == (steps, 2, 5, 7)
    for t in sorted({1, 4, 6, steps}):
        expected = advcam_maps(net, weight, image, [0, 2], scales=scales, steps=t)
        torch.testing.assert_close(prefix['high_res'][t - 1], expected['high_res'], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(prefix['strided'][t - 1], expected['strided'], rtol=1e-12, atol=1e-12)
    single = advcam_prefix_maps(net, weight, image, [1], scales=(1.0,), steps=4, mask_coef=0.0)
    torch.testing.assert_close(single['high_res'][2], advcam_maps(net, weight, image, [1], scales=(1.0,), steps=3,
                                                                  mask_coef=0.0)['high_res'])
    empty = advcam_prefix_maps(net, weight, image, [], scales=scales, steps=3)
    assert empty['high_res'].shape == (3, 0, 20, 28)


def test_schedule_follows_the_reference_for_the_second_scale():
    counts, factors = prefix_schedule(3, 12)
    np.testing.assert_array_equal(counts[:, 0], np.arange(1, 13))
    np.testing.assert_array_equal(counts[:, 2], np.arange(1, 13))
    # the reference's 0.5 scale: all steps below 6, 5 steps up to 10, half the steps (x2) beyond
    assert counts[:, 1].tolist() == [1, 2, 3, 4, 5, 5, 5, 5, 5, 5, 5, 6]
    assert factors.tolist() == [1] * 10 + [2, 2]
    counts, factors = prefix_schedule(1, 4)
    assert counts[:, 0].tolist() == [1, 2, 3, 4] and factors.tolist() == [1, 1, 1, 1]


def test_bad_arguments():
    net = tiny_net()
    weight = torch.randn(4, 16, dtype=torch.float64)
    image = torch.randn(3, 8, 8, dtype=torch.float64)
    with pytest.raises(ValueError, match='steps must be >= 1'):
        advcam_prefix_maps(net, weight, image, [0], steps=0)
    with pytest.raises(ValueError, match='scales must not be empty'):
        advcam_prefix_maps(net, weight, image, [0], scales=())
