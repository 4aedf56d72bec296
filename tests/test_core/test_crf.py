import numpy as np
import pytest

from advcam_mm.core.crf import crf_inference_label, crf_inference_prob

HEIGHT, WIDTH, EDGE = 40, 64, 32


def two_colour_image(seed=0):
    """Dark left half, bright right half (vertical edge at EDGE), mild noise."""
    rng = np.random.default_rng(seed)
    image = np.empty((HEIGHT, WIDTH, 3), np.float64)
    image[:, :EDGE] = (50, 80, 60)
    image[:, EDGE:] = (210, 180, 160)
    image += rng.normal(0, 3, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def truth():
    return (np.arange(WIDTH) >= EDGE).astype(np.int64)[None].repeat(HEIGHT, 0)


@pytest.mark.parametrize('shift', [-7, 7])
def test_crf_moves_displaced_label_boundary_onto_colour_edge(shift):
    labels = (np.arange(WIDTH) >= EDGE + shift).astype(np.int64)[None].repeat(HEIGHT, 0)
    before = (labels == truth()).mean()
    refined = crf_inference_label(two_colour_image(), labels, n_labels=2)
    after = (refined == truth()).mean()
    assert refined.shape == (HEIGHT, WIDTH)
    assert before < 0.9
    assert after > 0.98


def test_crf_sharpens_blurred_probability_map():
    column = np.arange(WIDTH)
    # a soft ramp 24 columns wide, centred 5 columns right of the colour edge
    foreground = np.clip((column - (EDGE + 5) + 12) / 24, 0.05, 0.95)
    probs = np.stack([1 - foreground, foreground])[:, None, :].repeat(HEIGHT, 1).astype(np.float32)
    before = (probs.argmax(0) == truth()).mean()
    refined = crf_inference_prob(two_colour_image(), probs)
    assert refined.shape == probs.shape and refined.dtype == np.float32
    np.testing.assert_allclose(refined.sum(0), 1, atol=1e-4)
    assert before < 0.95
    assert (refined.argmax(0) == truth()).mean() > 0.98
    # the refined map is sharper: confident on both sides of the edge
    assert refined[1, :, EDGE + 1:EDGE + 8].mean() > foreground[EDGE + 1:EDGE + 8].mean()
    assert refined[0, :, EDGE - 8:EDGE - 1].mean() > 1 - foreground[EDGE - 8:EDGE - 1].mean()


def test_single_label_and_errors():
    image = two_colour_image()
    np.testing.assert_array_equal(crf_inference_label(image, np.zeros((HEIGHT, WIDTH), int), 1), 0)
    with pytest.raises(ValueError, match='image is'):
        crf_inference_label(image[:-1], truth(), 2)
    with pytest.raises(ValueError, match='uint8'):
        crf_inference_label(image.astype(np.float32), truth(), 2)
    with pytest.raises(ValueError, match='lie in'):
        crf_inference_label(image, truth() * 2, 2)
    with pytest.raises(ValueError, match='image is'):
        crf_inference_prob(image, np.full((2, HEIGHT, WIDTH + 1), 0.5, np.float32))
    with pytest.raises(TypeError, match='unknown CRF kernel'):
        crf_inference_prob(image, np.full((2, HEIGHT, WIDTH), 0.5, np.float32), bilateral_sigma=3)
