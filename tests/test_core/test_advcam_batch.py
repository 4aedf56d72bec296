"""The batched engine: across images equals per image, the reference, the prefix maps; the run options."""
import pytest
import torch

from advcam_mm.core.advcam import (adv_climb, advcam_maps, advcam_maps_batch, advcam_prefix_maps,
                                   advcam_prefix_maps_batch, climb_chunks, scale_schedule)
from advcam_mm.core.cam import rescale_image

from .cam_reference import reference_advcam_maps, tiny_net

NUM_CLASSES = 6
SCALES = (1.0, 0.5, 1.5)
# Two sizes (and their transposes' order mixed), class counts 2, 0, 1, 3, 1, 2.
SIZES = [(24, 32), (32, 24), (24, 32), (24, 32), (32, 24), (20, 28)]
CLASS_IDS = [[0, 4], [], [2], [1, 3, 5], [5], [3, 3]]


@pytest.fixture(scope='module')
def setup():
    net = tiny_net()
    torch.manual_seed(3)
    weight = torch.randn(NUM_CLASSES, 16, dtype=torch.float64)
    images = [torch.randn(3, *size, dtype=torch.float64) for size in SIZES]
    return net, weight, images


class BatchRecorder:
    """``features_fn`` that records each forward's batch size and image size."""

    def __init__(self, net):
        self.net, self.calls = net, []

    def __call__(self, x):
        self.calls.append((x.shape[0], tuple(x.shape[-2:])))
        return self.net(x)


def assert_same_maps(got, expected, rtol=1e-10, atol=1e-13):
    assert got['keys'].tolist() == expected['keys'].tolist() and got['keys'].dtype == torch.int64
    torch.testing.assert_close(got['strided'], expected['strided'], rtol=rtol, atol=atol)
    torch.testing.assert_close(got['high_res'], expected['high_res'], rtol=rtol, atol=atol)


@pytest.mark.parametrize('flip', [True, False])
@pytest.mark.parametrize('steps,max_batch', [(7, None), (12, 3)])
def test_batch_equals_per_image_advcam_maps(setup, flip, steps, max_batch):
    """Images of three sizes, 0 to 3 classes (one repeated), both 0.5-scale schedules, with and without a cap."""
    net, weight, images = setup
    got = advcam_maps_batch(net, weight, images, CLASS_IDS, SCALES, steps, flip=flip, max_batch=max_batch)
    assert len(got) == len(images)
    for image, class_ids, result in zip(images, CLASS_IDS, got):
        expected = advcam_maps(net, weight, image, class_ids, SCALES, steps, flip=flip)
        assert_same_maps(result, expected)
        assert result['high_res'].shape == (len(class_ids), *image.shape[1:])
        assert result['strided'].shape == (len(class_ids), (image.shape[1] + 3) // 4, (image.shape[2] + 3) // 4)
    assert got[0]['high_res'].amax() > 0.99  # normalised maps, not all zero
    torch.testing.assert_close(got[5]['high_res'][0], got[5]['high_res'][1], rtol=0, atol=0)


def test_batch_equals_the_reference_loop(setup):
    """Two images of the batch against ``obtain_CAM_masking.py``'s one-class-at-a-time loop."""
    net, weight, images = setup
    got = advcam_maps_batch(net, weight, images, CLASS_IDS, SCALES, steps=12)
    for position in (3, 4):  # 3 classes at 24x32 (batched with 0 and 2), 1 class at 32x24
        strided, high_res = reference_advcam_maps(net, weight, images[position], CLASS_IDS[position], SCALES, 12)
        torch.testing.assert_close(got[position]['strided'], strided, rtol=1e-9, atol=1e-12)
        torch.testing.assert_close(got[position]['high_res'], high_res, rtol=1e-9, atol=1e-12)


def test_equal_sizes_climb_in_one_batch_and_the_cap_splits_it(setup):
    net, weight, images = setup
    recorder = BatchRecorder(net)
    advcam_maps_batch(recorder, weight, images, CLASS_IDS, scales=(1.0, ), steps=2)
    # 24x32: images 0, 2, 3 -> 6 trajectories x 2 views; 32x24: images 1 (none), 4 -> 2 views; 20x28: 4 views.
    assert recorder.calls == [(12, (24, 32))] * 2 + [(2, (32, 24))] * 2 + [(4, (20, 28))] * 2
    recorder.calls.clear()
    advcam_maps_batch(recorder, weight, images, CLASS_IDS, scales=(1.0, ), steps=2, max_batch=5)
    assert [size for size, _ in recorder.calls] == [4, 4, 4, 4, 4, 4, 2, 2, 4, 4]
    recorder.calls.clear()
    pixels = 24 * 32 * 2 * 3  # three trajectories of two views at 24x32
    advcam_maps_batch(recorder, weight, images[:1] + images[2:4], CLASS_IDS[:1] + CLASS_IDS[2:4], scales=(1.0, 0.5),
                      steps=2, max_batch_pixels=pixels)
    # scale 0.5 first (12x16): all 12 views fit; scale 1.0: two batches of 3 trajectories.
    assert recorder.calls == [(12, (12, 16))] * 2 + [(6, (24, 32))] * 4


def test_climb_chunks_known_answers():
    assert climb_chunks(5, 2, (10, 10)) == [(0, 5)]
    assert climb_chunks(5, 2, (10, 10), max_batch=4) == [(0, 2), (2, 4), (4, 5)]
    assert climb_chunks(3, 2, (10, 10), max_batch=1) == [(0, 1), (1, 2), (2, 3)]  # at least one trajectory
    assert climb_chunks(7, 1, (10, 10), max_batch_pixels=300) == [(0, 3), (3, 6), (6, 7)]
    assert climb_chunks(7, 2, (10, 10), max_batch=8, max_batch_pixels=300) == [(0, 1), (1, 2), (2, 3), (3, 4),
                                                                               (4, 5), (5, 6), (6, 7)]
    assert climb_chunks(0, 2, (10, 10)) == []


def test_history_is_that_of_each_trajectory(setup):
    net, weight, images = setup
    got = advcam_maps_batch(net, weight, images[:4], CLASS_IDS[:4], SCALES, steps=7, return_history=True)
    for image, class_ids, result in zip(images[:4], CLASS_IDS[:4], got):
        assert len(result['history']) == len(SCALES)
        for index, scale in enumerate(SCALES):
            steps = scale_schedule(7)[0] if index == 1 else 7
            history = result['history'][index]
            x = rescale_image(image, scale)
            _, expected = adv_climb(net, weight, x, class_ids, steps, return_history=True)
            for key in ('maps', 'scores', 'masks'):
                assert history[key].shape == expected[key].shape, (key, index)
                torch.testing.assert_close(history[key], expected[key], rtol=1e-10, atol=1e-13)


def test_prefix_maps_batch_are_advcam_maps_of_every_iteration(setup):
    net, weight, images = setup
    steps = 12
    got = advcam_prefix_maps_batch(net, weight, images[:3], CLASS_IDS[:3], SCALES, steps, max_batch=4)
    assert got[1]['high_res'].shape == (steps, 0, 32, 24)
    for image, class_ids, result in zip(images[:3], CLASS_IDS[:3], got):
        assert result['high_res'].shape == (steps, len(class_ids), *image.shape[1:])
        for t in (1, 5, 6, 11, 12):  # both branches of the 0.5 scale's schedule
            expected = advcam_maps(net, weight, image, class_ids, SCALES, steps=t)
            torch.testing.assert_close(result['high_res'][t - 1], expected['high_res'], rtol=1e-10, atol=1e-12)
            torch.testing.assert_close(result['strided'][t - 1], expected['strided'], rtol=1e-10, atol=1e-12)
    single = advcam_prefix_maps(net, weight, images[0], [4], scales=(1.0, ), steps=4, mask_coef=0.0)
    torch.testing.assert_close(single['high_res'][2], advcam_maps(net, weight, images[0], [4], scales=(1.0, ),
                                                                  steps=3, mask_coef=0.0)['high_res'])


def test_channels_last_gives_the_same_maps(setup):
    net, weight, images = setup
    expected = advcam_maps_batch(net, weight, images[:3], CLASS_IDS[:3], (1.0, 0.5), steps=4)
    formats = []

    def features_fn(x):
        formats.append(x.is_contiguous(memory_format=torch.channels_last))
        return net(x)

    got = advcam_maps_batch(features_fn, weight, images[:3], CLASS_IDS[:3], (1.0, 0.5), steps=4, channels_last=True)
    assert formats and all(formats)
    for result, reference in zip(got, expected):
        assert_same_maps(result, reference, rtol=1e-9, atol=1e-12)


def test_amp_option_is_autocast(setup):
    _, weight, images = setup
    net32 = tiny_net(dtype=torch.float32)
    weight32, images32 = weight.float(), [image.float() for image in images[:3]]
    fp32 = advcam_maps_batch(net32, weight32, images32, CLASS_IDS[:3], (1.0, 0.5), steps=3)
    bf16 = advcam_maps_batch(net32, weight32, images32, CLASS_IDS[:3], (1.0, 0.5), steps=3, amp='bfloat16')
    with torch.autocast('cpu', dtype=torch.bfloat16):
        outer = advcam_maps_batch(net32, weight32, images32, CLASS_IDS[:3], (1.0, 0.5), steps=3)
    for a, b, c in zip(bf16, outer, fp32):
        assert_same_maps(a, b, rtol=0, atol=0)
        assert a['high_res'].dtype == torch.float32
        if a['keys'].numel():
            difference = (a['high_res'] - c['high_res']).abs()
            assert 0 < difference.mean() < 0.05  # bf16 ran (different) and stays close
    with pytest.raises(ValueError, match='amp'):
        advcam_maps_batch(net32, weight32, images32, CLASS_IDS[:3], amp='float8')


def test_compiled_step_gives_the_same_maps(setup):
    """``aot_eager``: dynamo traces the step, AOTAutograd its forward and backward (inductor, the default
    backend, gives the same maps to 7e-16 but takes 30-60 s to compile here: left to the benchmark)."""
    torch._dynamo.reset()
    options = dict(backend='aot_eager')
    net, weight, images = setup
    expected = advcam_maps_batch(net, weight, images[:3], CLASS_IDS[:3], (1.0, ), steps=3, flip=False)
    got = advcam_maps_batch(net, weight, images[:3], CLASS_IDS[:3], (1.0, ), steps=3, flip=False, compile=options)
    for result, reference in zip(got, expected):
        assert_same_maps(result, reference, rtol=1e-9, atol=1e-12)


def test_bad_input_names_the_image(setup):
    net, weight, images = setup
    with pytest.raises(ValueError, match='2 images but 1 class id lists'):
        advcam_maps_batch(net, weight, images[:2], [[0]])
    with pytest.raises(ValueError, match=r'images\[1\].*\(3, H, W\)'):
        advcam_maps_batch(net, weight, [images[0], images[1][:2]], [[0], [1]])
    with pytest.raises(ValueError, match=r'images\[0\].*out of range'):
        advcam_maps_batch(net, weight, images[:1], [[NUM_CLASSES]])
    with pytest.raises(ValueError, match='steps'):
        advcam_maps_batch(net, weight, images[:1], [[0]], steps=0)
    assert advcam_maps_batch(net, weight, [], []) == []


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_no_host_device_synchronisation_on_cuda(setup):
    """A whole batched call raises under CUDA's sync debug mode 'error' if anything synchronises."""
    net, weight, images = setup
    net = tiny_net(dtype=torch.float32).cuda()
    weight = weight.float().cuda()
    images = [image.float().pin_memory() for image in images]
    advcam_maps_batch(net, weight, images, CLASS_IDS, SCALES, steps=3)  # warm-up: cuDNN, allocator
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode('error')
    try:
        results = advcam_maps_batch(net, weight, images, CLASS_IDS, SCALES, steps=3)
    finally:
        torch.cuda.set_sync_debug_mode('default')
    assert results[0]['high_res'].is_cuda
