"""Dense-CRF post-processing of a segmentor's prediction (DeepLab-v2's test-time CRF).

DeepLab-v2 (Chen et al., TPAMI 2017, Sec. 3.4) refines the network's softmax
with a fully connected CRF (Krähenbühl & Koltun, 2011) on the original image.
Two registered models add it to any MMSeg test path, configured by one dict:

* :class:`EncoderDecoderWithCRF` - mmseg's ``EncoderDecoder`` whose
  ``postprocess_result`` refines each image's prediction when
  ``test_cfg['crf']`` is enabled (``tools/test.py CONFIG CKPT``);
* :class:`SegTTAModelWithCRF` - mmseg's ``SegTTAModel`` that averages the
  softmax of the augmented views, then runs the CRF once on the merged
  probabilities (``tools/test.py CONFIG CKPT --tta``). It takes the CRF
  settings of the wrapped model and switches that model's own CRF off, so
  no view is refined twice. ``view_average='logits'`` averages the views'
  logits instead and takes their softmax (CCT's ``multi_scale_predict`` in
  ``inference.py``, which AdvCAM used for its semi-supervised 77.8).

The CRF needs the un-normalised image: it is read from the data sample's
``img_path`` (the file ``LoadImageFromFile`` loaded) and must have the
sample's ``ori_shape``. The refined marginals are stored as
``seg_logits = log(marginals)`` (their softmax gives the marginals back) and
``pred_sem_seg = argmax``, so ``IoUMetric`` and visualisers work unchanged.

Settings (``test_cfg=dict(mode='whole', crf=dict(...))``): ``enabled``
(default True when the dict is given; ``crf=None`` or ``enabled=False``
turns it off), ``t`` (mean-field iterations) and the kernel parameters of
:func:`advcam_mm.core.crf.crf_inference_prob`. Defaults: DeepLab-v2's VOC
values (kazuto1011/deeplab-pytorch ``configs/voc12.yaml``: 10 iterations,
``pos_w=3, pos_xy_std=1, bi_w=4, bi_xy_std=67, bi_rgb_std=3``).

``class_floor`` (default :data:`CLASS_FLOOR`, 1e-3) bounds the CRF's cost on
datasets with many classes: it runs over background and the classes whose
probability reaches the floor at some pixel, re-normalised, instead of all
of them (DeepLab-v2 runs all; on COCO's 81 classes that took 2.2 GB and
30-80 s per 640x640 image, ``benchmarks/coco_scale.py``), so its memory grows
with the classes present. A dropped class cannot win a pixel: its unary
``-log p`` exceeds ``-log 1e-3 = 6.9`` everywhere, more than the unary of the
pixel's most likely class (at most ``log 81 = 4.4``), and the Potts pairwise
term never favours a class with almost no mass around; re-normalising adds
the same constant to every kept class's unary at a pixel, which mean-field
ignores. What changes is only the dropped classes' small share in the
pairwise messages (argmax equal to the full CRF in
``tests/test_models/test_crf_postprocess_class_floor.py``). ``class_floor=0``
runs every class, as DeepLab-v2.
"""
from typing import List, Optional

import mmcv
import numpy as np
import torch
from mmengine.structures import PixelData
from mmseg.models.segmentors import EncoderDecoder, SegTTAModel
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from ..core.crf import IRN_PAIRWISE, crf_inference_prob

#: DeepLab-v2's dense CRF for VOC, in :func:`crf_inference_prob`'s names.
DEEPLAB_V2_CRF = dict(t=10, gaussian_sxy=1, gaussian_compat=3, bilateral_sxy=67, bilateral_srgb=3,
                      bilateral_compat=4)
#: Classes below this probability at every pixel are left out of the test-time CRF (module docstring).
CLASS_FLOOR = 1e-3
_OTHER_KEYS = ('t', 'scale', 'clip', 'class_floor')


def dense_crf_settings(crf: Optional[dict]) -> Optional[dict]:
    """Full CRF settings from a (partial) config dict, or ``None`` when disabled."""
    if crf is None:
        return None
    if not isinstance(crf, dict):
        raise TypeError(f'test_cfg.crf must be a dict or None, got {type(crf).__name__}')
    crf = dict(crf)
    if not crf.pop('enabled', True):
        return None
    unknown = set(crf) - set(IRN_PAIRWISE) - set(_OTHER_KEYS)
    if unknown:
        raise ValueError(f'unknown dense CRF settings {sorted(unknown)}; known: enabled, '
                         f'{", ".join(sorted(set(IRN_PAIRWISE) | set(_OTHER_KEYS)))}')
    return {**DEEPLAB_V2_CRF, **crf}


def _read_image(sample: SegDataSample) -> np.ndarray:
    path = sample.metainfo.get('img_path')
    if not path:
        raise ValueError('dense CRF post-processing needs the image file, but the data sample has no '
                         'img_path (predicting from arrays? disable test_cfg.crf)')
    image = mmcv.imread(path, channel_order='rgb')
    if image is None:
        raise FileNotFoundError(f'{path}: image for the dense CRF not found or unreadable')
    return image


def classes_reaching_floor(probs: torch.Tensor, floor: float) -> torch.Tensor:
    """Indices of background (0) and of the classes whose probability reaches ``floor`` at some pixel."""
    keep = probs.flatten(1).amax(dim=1) >= floor
    keep[0] = True
    return keep.nonzero().flatten()


def bounded_crf_marginals(image: np.ndarray, probs: torch.Tensor, settings: dict) -> torch.Tensor:
    """CRF marginals ``(C, H, W)`` of ``probs`` on ``image``, run over the classes reaching ``class_floor``.

    The kept classes' probabilities are re-normalised to sum to 1 and refined
    together; the dropped classes get marginal 0 (see the module docstring).
    """
    settings = dict(settings)
    t = settings.pop('t')
    floor = settings.pop('class_floor', CLASS_FLOOR)
    probs = probs.detach().float().cpu()
    kept = classes_reaching_floor(probs, floor)
    subset = probs[kept]
    subset = subset / subset.sum(dim=0, keepdim=True).clamp_min(1e-12)
    marginals = torch.zeros_like(probs)
    marginals[kept] = torch.from_numpy(crf_inference_prob(image, subset.numpy(), t=t, **settings))
    return marginals


def refine_probabilities(probs: torch.Tensor, sample: SegDataSample, settings: dict) -> torch.Tensor:
    """CRF marginals ``(C, H, W)`` of softmax ``probs`` on the sample's original image."""
    image = _read_image(sample)
    if tuple(image.shape[:2]) != tuple(probs.shape[-2:]):
        raise ValueError(f'{sample.img_path}: image is {image.shape[:2]} but the prediction is '
                         f'{tuple(probs.shape[-2:])} (ori_shape {sample.metainfo.get("ori_shape")})')
    return bounded_crf_marginals(image, probs, settings).to(probs.device)


def set_refined_prediction(sample: SegDataSample, marginals: torch.Tensor) -> SegDataSample:
    """Store probabilities (CRF marginals, merged views) as ``seg_logits = log(p)``, ``pred_sem_seg = argmax``."""
    sample.set_data({
        'seg_logits': PixelData(data=marginals.clamp_min(1e-8).log()),
        'pred_sem_seg': PixelData(data=marginals.argmax(dim=0, keepdim=True)),
    })
    return sample


def _check_multiclass(out_channels):
    if out_channels < 2:
        raise ValueError('dense CRF post-processing needs a softmax head (out_channels >= 2), '
                         f'got out_channels={out_channels}')


@MODELS.register_module()
class EncoderDecoderWithCRF(EncoderDecoder):
    """mmseg ``EncoderDecoder`` with optional dense-CRF refinement of each test prediction.

    Same arguments as ``EncoderDecoder``; ``test_cfg['crf']`` (see module
    docstring) switches the CRF on. Training is unchanged.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.crf = dense_crf_settings((self.test_cfg or {}).get('crf'))
        if self.crf is not None:
            _check_multiclass(self.out_channels)

    def postprocess_result(self, seg_logits: torch.Tensor,
                           data_samples: Optional[List[SegDataSample]] = None) -> List[SegDataSample]:
        data_samples = super().postprocess_result(seg_logits, data_samples)
        if self.crf is None:
            return data_samples
        for sample in data_samples:
            probs = sample.seg_logits.data.softmax(dim=0)
            set_refined_prediction(sample, refine_probabilities(probs, sample, self.crf))
        return data_samples


@MODELS.register_module()
class SegTTAModelWithCRF(SegTTAModel):
    """mmseg ``SegTTAModel`` (mean of the views' softmax, or of their logits) followed by one dense CRF.

    Args:
        module (dict): the segmentor (e.g. ``EncoderDecoderWithCRF``).
        crf (dict | str | None): CRF settings; ``'from_module'`` (default)
            takes the wrapped model's ``test_cfg['crf']``; ``None`` disables it.
        view_average (str): ``'softmax'`` (default, mmseg's ``SegTTAModel``):
            mean of the views' softmax; ``'logits'``: softmax of the mean of
            the views' logits (CCT's multi-scale inference).
    """

    def __init__(self, module, crf='from_module', view_average: str = 'softmax', **kwargs):
        if view_average not in ('softmax', 'logits'):
            raise ValueError(f"SegTTAModelWithCRF: view_average must be 'softmax' or 'logits', "
                             f'got {view_average!r}')
        super().__init__(module=module, **kwargs)
        self.view_average = view_average
        if crf == 'from_module':
            self.crf = getattr(self.module, 'crf', None)
        else:
            self.crf = dense_crf_settings(crf)
        if hasattr(self.module, 'crf'):
            self.module.crf = None  # refine the merged prediction only
        if self.crf is not None or view_average == 'logits':
            _check_multiclass(self.module.out_channels)

    def merged_probabilities(self, views: List[SegDataSample]) -> torch.Tensor:
        """Class probabilities ``(C, H, W)`` of one image from its views (see ``view_average``)."""
        if self.view_average == 'logits':
            return (sum(view.seg_logits.data for view in views) / len(views)).softmax(dim=0)
        return sum(view.seg_logits.data.softmax(dim=0) for view in views) / len(views)

    def merge_preds(self, data_samples_list: List[List[SegDataSample]]) -> List[SegDataSample]:
        if self.crf is None and self.view_average == 'softmax':
            return super().merge_preds(data_samples_list)
        merged = []
        for views in data_samples_list:
            probs = self.merged_probabilities(views)
            first = views[0]
            sample = SegDataSample(metainfo=dict(first.metainfo))
            if 'gt_sem_seg' in first:
                sample.gt_sem_seg = first.gt_sem_seg
            if self.crf is not None:
                probs = refine_probabilities(probs, first, self.crf)
            merged.append(set_refined_prediction(sample, probs))
        return merged
