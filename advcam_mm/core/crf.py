"""Dense CRF (Krähenbühl & Koltun, 2011) through ``pydensecrf``, numpy in, numpy out.

The pairwise terms are IRN's (``misc/imutils.crf_inference_label``, used by
IRN and AdvCAM for the "+CRF" seeds and the IR labels): an appearance-free
smoothness kernel (``sxy=3, compat=3``) and a bilateral appearance kernel
(``sxy=50, srgb=5, compat=10``), 10 mean-field iterations.
"""
import numpy as np
import pydensecrf.densecrf as dcrf
from pydensecrf.utils import unary_from_labels, unary_from_softmax

IRN_PAIRWISE = dict(gaussian_sxy=3, gaussian_compat=3,
                    bilateral_sxy=50, bilateral_srgb=5, bilateral_compat=10)


def _check_image(image, height_width, what):
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f'CRF image must be (H, W, 3) RGB, got shape {image.shape}')
    if image.shape[:2] != tuple(height_width):
        raise ValueError(f'CRF image is {image.shape[:2]} (H, W) but the {what} is '
                         f'{tuple(height_width)}')
    if image.dtype != np.uint8:
        raise ValueError(f'CRF image must be uint8, got {image.dtype}')
    image = np.ascontiguousarray(image)
    # pydensecrf takes a writable buffer (arrays read from PIL images are read-only)
    return image if image.flags.writeable else image.copy()


def _mean_field(image, unary, n_labels, t, pairwise):
    """Run ``t`` mean-field iterations; return the marginals ``(n_labels, H, W)``."""
    height, width = image.shape[:2]
    crf = dcrf.DenseCRF2D(width, height, n_labels)
    crf.setUnaryEnergy(np.ascontiguousarray(unary, dtype=np.float32))
    crf.addPairwiseGaussian(sxy=pairwise['gaussian_sxy'], compat=pairwise['gaussian_compat'])
    crf.addPairwiseBilateral(sxy=pairwise['bilateral_sxy'], srgb=pairwise['bilateral_srgb'],
                             rgbim=image, compat=pairwise['bilateral_compat'])
    return np.asarray(crf.inference(t), dtype=np.float32).reshape(n_labels, height, width)


def _pairwise(pairwise: dict) -> dict:
    """IRN's kernel parameters with ``pairwise``'s overrides; an unknown name is an error."""
    unknown = set(pairwise) - set(IRN_PAIRWISE)
    if unknown:
        raise TypeError(f'unknown CRF kernel parameters {sorted(unknown)}; known: {sorted(IRN_PAIRWISE)}')
    return {**IRN_PAIRWISE, **pairwise}


def crf_inference_label(image, labels, n_labels, t=10, gt_prob=0.7, **pairwise):
    """Refine a hard label map with a dense CRF, as IRN's ``crf_inference_label``.

    Args:
        image: uint8 ``(H, W, 3)`` RGB image whose colours drive the bilateral kernel.
        labels: integer ``(H, W)`` map of indices in ``[0, n_labels)``.
        n_labels: number of labels (e.g. ``1 + #present classes`` for seeds).
        t: mean-field iterations.
        gt_prob: unary confidence in the given label (``unary_from_labels`` with
            ``zero_unsure=False``: label 0 is an ordinary label, here background).
        **pairwise: overrides of IRN's kernel parameters (:data:`IRN_PAIRWISE`; their
            lengths are in pixels of ~500-pixel images).

    Returns:
        int64 ``(H, W)`` argmax of the CRF marginals. With ``n_labels == 1`` there
        is nothing to decide and the all-zero map is returned.
    """
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f'CRF labels must be an (H, W) map, got shape {labels.shape}')
    image = _check_image(image, labels.shape, 'label map')
    if n_labels < 1:
        raise ValueError(f'n_labels must be >= 1, got {n_labels}')
    if labels.size and (labels.min() < 0 or labels.max() >= n_labels):
        raise ValueError(f'CRF labels must lie in [0, {n_labels}), got range '
                         f'[{labels.min()}, {labels.max()}]')
    if n_labels == 1:
        return np.zeros(labels.shape, dtype=np.int64)
    kernels = _pairwise(pairwise)
    unary = unary_from_labels(labels.astype(np.int64), n_labels, gt_prob=gt_prob, zero_unsure=False)
    marginals = _mean_field(image, unary, n_labels, t, kernels)
    return np.argmax(marginals, axis=0)


def crf_inference_prob(image, probs, t=10, scale=None, clip=1e-5, **pairwise):
    """Refine class probabilities with a dense CRF (e.g. a segmentor's softmax output).

    Args:
        image: uint8 ``(H, W, 3)`` RGB image.
        probs: ``(n_labels, H, W)`` class probabilities (each pixel sums to 1);
            the unary is ``-log(clip(probs, clip, 1))`` (``unary_from_softmax``).
        t: mean-field iterations.
        scale: if given, in ``(0, 1]``, the probabilities are first mixed with the
            uniform distribution (``scale * p + (1 - scale) / n``) to soften an
            over-confident network.
        clip: smallest probability before the logarithm.
        **pairwise: overrides of the kernel parameters, defaults IRN's
            (``gaussian_sxy=3, gaussian_compat=3, bilateral_sxy=50,
            bilateral_srgb=5, bilateral_compat=10``). The DeepLab-v2 VOC
            post-processing of kazuto1011/deeplab-pytorch (``configs/voc12.yaml``)
            is ``gaussian_sxy=1, gaussian_compat=3, bilateral_sxy=67,
            bilateral_srgb=3, bilateral_compat=4``.

    Returns:
        float32 ``(n_labels, H, W)`` CRF marginals; take ``argmax(0)`` for labels.
    """
    kernels = _pairwise(pairwise)
    probs = np.asarray(probs, dtype=np.float32)
    if probs.ndim != 3 or probs.shape[0] < 1:
        raise ValueError(f'CRF probabilities must be (n_labels, H, W), got shape {probs.shape}')
    image = _check_image(image, probs.shape[1:], 'probability map')
    n_labels = probs.shape[0]
    if n_labels == 1:
        return np.ones_like(probs)
    unary = unary_from_softmax(probs, scale=scale, clip=clip)
    return _mean_field(image, unary, n_labels, t, kernels)
