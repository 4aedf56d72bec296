"""The test-time CRF over the classes reaching a floor: the full CRF's argmax where the dropped classes are tiny."""
import numpy as np
import torch
from PIL import Image

import advcam_mm  # noqa: F401  (registers the components)
from advcam_mm.core.crf import crf_inference_prob
from advcam_mm.models.crf_postprocess import (CLASS_FLOOR, DEEPLAB_V2_CRF, bounded_crf_marginals,
                                              classes_reaching_floor, refine_probabilities)
from mmseg.structures import SegDataSample

SIZE = 40
PRESENT = (0, 5, 17)  # background and two objects of an 81-class dataset


def _scene(seed=0):
    """Three colour regions and a blurry, partly wrong 81-class softmax: the present classes carry almost all
    of the mass, each of the other 78 stays below the floor (1e-5 .. 5e-4) but is not zero."""
    rng = np.random.default_rng(seed)
    truth = np.zeros((SIZE, SIZE), np.int64)
    truth[5:22, 6:30] = 1
    truth[20:36, 18:38] = 2
    colours = np.array([(40, 60, 40), (210, 190, 40), (60, 90, 220)], np.uint8)
    image = np.clip(colours[truth] + rng.normal(0, 8, (SIZE, SIZE, 3)), 0, 255).astype(np.uint8)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    logits = np.zeros((3, SIZE, SIZE))
    for k in (1, 2):  # displaced, rounded versions of the regions, plus noise
        ys, xs = np.nonzero(truth == k)
        cy, cx = ys.mean() + 2, xs.mean() - 2
        half_h, half_w = (ys.max() - ys.min()) / 2, (xs.max() - xs.min()) / 2
        distance = np.maximum(abs(yy - cy) / half_h, abs(xx - cx) / half_w) - 1
        logits[k] = -4 * distance
    logits += rng.normal(0, 0.7, logits.shape)
    present = np.exp(logits) / np.exp(logits).sum(0)
    probs = np.zeros((81, SIZE, SIZE))
    probs[list(PRESENT)] = present
    others = [c for c in range(81) if c not in PRESENT]
    probs[others] = rng.uniform(1e-5, 5e-4, (len(others), SIZE, SIZE))
    probs[list(PRESENT)] *= 1 - probs[others].sum(0)
    return image, truth, torch.from_numpy(probs.astype(np.float32))


def test_kept_classes_are_background_and_those_reaching_the_floor():
    probs = torch.full((6, 4, 4), 1e-4)
    probs[3, 2, 1] = CLASS_FLOOR  # reaches the floor at one pixel only
    probs[4] = 0.5
    assert classes_reaching_floor(probs, CLASS_FLOOR).tolist() == [0, 3, 4]


def test_bounded_crf_has_the_full_crf_argmax_when_the_dropped_classes_are_tiny():
    image, truth, probs = _scene()
    settings = dict(DEEPLAB_V2_CRF)
    full = crf_inference_prob(image, probs.numpy(), **settings)
    bounded = bounded_crf_marginals(image, probs, settings).numpy()
    assert classes_reaching_floor(probs, CLASS_FLOOR).tolist() == list(PRESENT)
    np.testing.assert_array_equal(bounded.argmax(0), full.argmax(0))
    assert set(np.unique(full.argmax(0)).tolist()) == set(PRESENT)
    # the CRF did something here (it is not the input's argmax), and the kept marginals barely move
    assert (full.argmax(0) != probs.numpy().argmax(0)).sum() > 10
    np.testing.assert_allclose(bounded[list(PRESENT)], full[list(PRESENT)], atol=0.05)
    np.testing.assert_allclose(bounded.sum(0), 1, atol=1e-4)
    assert (bounded[[c for c in range(81) if c not in PRESENT]] == 0).all()
    # class_floor=0 keeps every class: the full CRF itself
    np.testing.assert_allclose(bounded_crf_marginals(image, probs, dict(settings, class_floor=0)).numpy(), full,
                               atol=1e-6)


def test_segmentor_refinement_uses_the_floor(tmp_path):
    image, _, probs = _scene(1)
    path = str(tmp_path / 'scene.png')
    Image.fromarray(image).save(path)
    sample = SegDataSample(metainfo=dict(img_path=path, ori_shape=(SIZE, SIZE)))
    refined = refine_probabilities(probs, sample, dict(DEEPLAB_V2_CRF))
    full = crf_inference_prob(image, probs.numpy(), **DEEPLAB_V2_CRF)
    np.testing.assert_array_equal(refined.argmax(0).numpy(), full.argmax(0))
    assert int((refined.flatten(1).amax(1) > 0).sum()) == len(PRESENT)
