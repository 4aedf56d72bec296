"""Cross-consistency training (CCT): the semi-supervised segmentor of AdvCAM's Table 6.

Ouali, Hudelot, Tami, "Semi-Supervised Semantic Segmentation with
Cross-Consistency Training", CVPR 2020 (reference code yassouali/CCT,
``models/model.py``). AdvCAM (Lee et al., CVPR 2021, Sec. 5.3) trains it on
the 1,464 pixel-labelled VOC train images plus the other 9,118 train_aug
images, whose masks are AdvCAM pseudo masks ("weak" labels).
"""
import copy
from typing import Dict, List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import MessageHub
from mmseg.registry import MODELS

from ..core.cct_perturbations import PERTURBATION_NAMES, perturb
from ..core.consistency import (annealed_bootstrapped_cross_entropy, annealed_threshold,
                                consistency_weight, softmax_mse_loss)
from .crf_postprocess import EncoderDecoderWithCRF

#: CCT's VOC settings (``configs/config.json``): number of auxiliary decoders per perturbation and options.
CCT_PERTURBATIONS = dict(
    vat=dict(num=2, xi=1e-6, eps=2.0),
    drop=dict(num=6, drop_rate=0.5, spatial=True),
    cutout=dict(num=6, erase=0.4),
    context_masking=dict(num=2),
    object_masking=dict(num=2),
    feature_drop=dict(num=6),
    feature_noise=dict(num=6, uniform_range=0.3))

#: Keyword options each perturbation accepts (see :mod:`advcam_mm.core.cct_perturbations`).
_OPTIONS = dict(vat=('xi', 'eps', 'iterations'), drop=('drop_rate', 'spatial'),
                cutout=('erase', 'min_contour_points'), context_masking=(), object_masking=(),
                feature_drop=('low', 'high'), feature_noise=('uniform_range', ))


def training_progress():
    """``(iter, max_iters)`` of the running mmengine train loop from the current MessageHub, or ``(None, None)``.

    mmengine's ``RuntimeInfoHook`` records ``iter`` before every train
    iteration and ``max_iters`` before training, so the model needs no hook.
    """
    hub = MessageHub.get_current_instance()
    current, total = hub.get_info('iter'), hub.get_info('max_iters')
    if current is None or not total:
        return None, None
    return int(current), int(total)


@MODELS.register_module()
class CCTSegmentor(EncoderDecoderWithCRF):
    """CCT: a shared encoder, a main decoder, and auxiliary decoders on perturbed encoder features.

    * encoder = ``backbone`` (dilated ResNet, output stride 8) + ``neck``
      (:class:`PyramidPoolingNeck`); main decoder = ``decode_head``
      (:class:`CCTUpsamplingHead`); each auxiliary decoder is a copy of the
      ``decode_head`` config (own weights) fed with one perturbation of the
      encoder output (``perturbations``: name -> ``dict(num=N, **options)``,
      CCT's counts and options in :data:`CCT_PERTURBATIONS`; ``num=0`` or a
      missing name disables one).
    * A batch mixes pixel-labelled and weakly-labelled samples, told apart by
      the metainfo ``is_labelled`` (absent = labelled), see
      ``SemiSupervisedDataset``; the two parts go through the encoder
      separately, as in CCT (separate BatchNorm batches).
    * Losses (CCT's ``forward``):
      ``loss_sup`` = CE (or ab-CE, ``sup_loss=dict(type='abCE')``) of the main
      decoder on labelled images, times ``sup_loss_weight``;
      ``loss_unsup`` = ``w_u(t)`` times the mean over auxiliary decoders of
      ``MSE(softmax(aux), softmax(main).detach())`` on weak images, with
      ``w_u`` ramped by ``exp(-5(1-t)^2)`` to ``unsup_loss_weight`` (30) over
      ``rampup_ratio`` (0.1) of training;
      ``loss_weak`` = ``weak_loss_weight * w_u(t) / unsup_loss_weight`` (0.4
      at the end of the ramp) times the CE of the auxiliary decoders' outputs
      against the weak (pseudo) masks, averaged over decoders, as CCT's
      ``use_weak_lables`` branch (``weak_loss_on='main'`` puts it on the main
      decoder instead; it is on the main decoder anyway when there are no
      auxiliary decoders).
    * The iteration ``t`` and the run length come from the mmengine
      MessageHub (:func:`training_progress`); outside a train loop the ramps
      count as finished. ``rampup_iters`` overrides ``rampup_ratio *
      max_iters``.
    * Inference is the main decoder (mmseg's ``EncoderDecoder.predict``,
      ``test_cfg`` mode whole or slide), refined by DeepLab-v2's dense CRF
      when ``test_cfg.crf`` is enabled, exactly as
      :class:`EncoderDecoderWithCRF` (whose subclass this is; also under
      ``SegTTAModelWithCRF``, which runs the CRF once on the merged views).
      AdvCAM's 77.8 (#12 in jbeomlee93/AdvCAM) is CCT's multi-scale + flip
      inference followed by this CRF.

    Args:
        sup_loss (dict): ``dict(type='CE')`` or ``dict(type='abCE',
            rampup_ratio=0.4, end=0.9, min_kept=1)`` (CCT's ab-CE: threshold
            from ``1/K`` to ``end`` over ``rampup_ratio`` of training).
        confidence_threshold (float, optional): CCT's ``confidence_masking``
            (off by default, as in its VOC config).
    """

    def __init__(self, backbone: dict, decode_head: dict, neck: Optional[dict] = None,
                 perturbations: Optional[dict] = None, sup_loss: Optional[dict] = None,
                 sup_loss_weight: float = 1.0, unsup_loss_weight: float = 30.0, rampup_ratio: float = 0.1,
                 rampup_iters: Optional[int] = None, weak_loss_weight: float = 0.4, weak_loss_on: str = 'aux',
                 confidence_threshold: Optional[float] = None, train_cfg=None, test_cfg=None,
                 data_preprocessor=None, pretrained=None, init_cfg=None):
        super().__init__(backbone=backbone, decode_head=decode_head, neck=neck, train_cfg=train_cfg,
                         test_cfg=test_cfg if test_cfg is not None else dict(mode='whole'),
                         data_preprocessor=data_preprocessor, pretrained=pretrained, init_cfg=init_cfg)
        if not hasattr(self.decode_head, 'decode'):
            raise TypeError(f'CCTSegmentor: decode_head {type(self.decode_head).__name__} needs a '
                            f'decode(features) method (use CCTUpsamplingHead)')
        self.perturbation_cfg = copy.deepcopy(CCT_PERTURBATIONS if perturbations is None else dict(perturbations))
        self.aux_perturbations = []  # (name, options) per auxiliary decoder, CCT's order
        self.aux_decoders = nn.ModuleList()
        unknown = set(self.perturbation_cfg) - set(PERTURBATION_NAMES)
        if unknown:
            raise ValueError(f'CCTSegmentor: unknown perturbations {sorted(unknown)}; '
                             f'known: {PERTURBATION_NAMES}')
        for name in PERTURBATION_NAMES:
            options = dict(self.perturbation_cfg.get(name) or {})
            number = int(options.pop('num', 1 if name in self.perturbation_cfg else 0))
            bad = set(options) - set(_OPTIONS[name])
            if bad:
                raise ValueError(f'CCTSegmentor: perturbation {name!r} has no options {sorted(bad)}; '
                                 f'it takes num and {_OPTIONS[name]}')
            for _ in range(number):
                self.aux_decoders.append(MODELS.build(copy.deepcopy(decode_head)))
                self.aux_perturbations.append((name, options))

        sup_loss = dict(sup_loss or dict(type='CE'))
        loss_type = sup_loss.pop('type')
        if loss_type not in ('CE', 'abCE'):
            raise ValueError(f"CCTSegmentor: sup_loss type must be 'CE' or 'abCE', got {loss_type!r}")
        if loss_type == 'abCE':
            sup_loss = dict(dict(rampup_ratio=0.4, end=0.9, min_kept=1), **sup_loss)
        elif sup_loss:
            raise ValueError(f'CCTSegmentor: CE takes no options, got {sorted(sup_loss)}')
        if weak_loss_on not in ('aux', 'main'):
            raise ValueError(f"CCTSegmentor: weak_loss_on must be 'aux' or 'main', got {weak_loss_on!r}")
        self.sup_loss_type, self.sup_loss_options = loss_type, sup_loss
        self.sup_loss_weight = float(sup_loss_weight)
        self.unsup_loss_weight = float(unsup_loss_weight)
        self.rampup_ratio = float(rampup_ratio)
        self.rampup_iters = rampup_iters
        self.weak_loss_weight = float(weak_loss_weight)
        self.weak_loss_on = weak_loss_on
        self.confidence_threshold = confidence_threshold

    # --- schedules ---------------------------------------------------------------
    def unsup_weight(self) -> float:
        """``w_u`` at the current iteration (the final weight outside a train loop)."""
        current, total = training_progress()
        if current is None:
            return self.unsup_loss_weight
        length = self.rampup_iters if self.rampup_iters is not None else self.rampup_ratio * total
        return consistency_weight(current, length, self.unsup_loss_weight)

    def _sup_threshold(self) -> float:
        current, total = training_progress()
        if current is None:
            current, total = 1, 0  # ramp finished
        return annealed_threshold(current, self.sup_loss_options['rampup_ratio'] * total, self.num_classes,
                                  self.sup_loss_options['end'])

    # --- losses ------------------------------------------------------------------
    def _resize_to(self, logits, size):
        if logits.shape[-2:] == size:
            return logits
        return F.interpolate(logits, size=size, mode='bilinear', align_corners=self.align_corners)

    @staticmethod
    def _stack_labels(data_samples):
        missing = [s.metainfo.get('img_path', '?') for s in data_samples if 'gt_sem_seg' not in s]
        if missing:
            raise KeyError(f'CCTSegmentor: samples without gt_sem_seg (masks): {missing[:3]}')
        return torch.stack([s.gt_sem_seg.data for s in data_samples]).squeeze(1).long()

    def _cross_entropy(self, logits, labels):
        ignore = self.decode_head.ignore_index
        if torch.all(labels == ignore):
            return logits.sum() * 0
        return F.cross_entropy(self._resize_to(logits, labels.shape[-2:]), labels, ignore_index=ignore)

    def _supervised_loss(self, logits, labels):
        logits = self._resize_to(logits, labels.shape[-2:])
        if self.sup_loss_type == 'CE':
            return self._cross_entropy(logits, labels)
        return annealed_bootstrapped_cross_entropy(
            logits, labels, self._sup_threshold(), min_kept=self.sup_loss_options['min_kept'],
            ignore_index=self.decode_head.ignore_index)

    def _features(self, inputs):
        return self.extract_feat(inputs)[-1]

    def aux_predictions(self, features: torch.Tensor, main_logits: torch.Tensor) -> List[torch.Tensor]:
        """Each auxiliary decoder's logits on its perturbation of ``features`` (CCT's ``outputs_ul``)."""
        guide = main_logits.detach()
        outputs = []
        for decoder, (name, options) in zip(self.aux_decoders, self.aux_perturbations):
            perturbed = perturb(name, features, prediction=guide, decoder=decoder.decode, **options)
            outputs.append(decoder.decode(perturbed))
        return outputs

    def loss(self, inputs: torch.Tensor, data_samples: List) -> Dict[str, torch.Tensor]:
        """CCT's training losses on a batch of labelled and weak samples (see the class docstring)."""
        flags = [bool(s.metainfo.get('is_labelled', True)) for s in data_samples]
        labelled = [i for i, flag in enumerate(flags) if flag]
        weak = [i for i, flag in enumerate(flags) if not flag]
        losses = dict()
        w_u = self.unsup_weight()
        if labelled:
            samples = [data_samples[i] for i in labelled]
            labels = self._stack_labels(samples)
            logits = self._resize_to(self.decode_head(self.extract_feat(inputs[labelled])), labels.shape[-2:])
            losses['loss_sup'] = self._supervised_loss(logits, labels) * self.sup_loss_weight
            valid = labels != self.decode_head.ignore_index
            correct = (logits.detach().argmax(1) == labels) & valid
            losses['acc_seg'] = correct.sum().float() * 100 / valid.sum().clamp(min=1)
        if weak:
            samples = [data_samples[i] for i in weak]
            features = self._features(inputs[weak])
            needs_main_grad = self.weak_loss_on == 'main' or not self.aux_decoders
            with torch.set_grad_enabled(needs_main_grad and torch.is_grad_enabled()):
                main_logits = self.decode_head.decode(features)
            aux_logits = self.aux_predictions(features, main_logits)
            if aux_logits:
                target = F.softmax(main_logits.detach(), dim=1)
                unsup = sum(softmax_mse_loss(out, target, self.confidence_threshold) for out in aux_logits)
                losses['loss_unsup'] = unsup / len(aux_logits) * w_u
            if self.weak_loss_weight > 0:
                weak_labels = self._stack_labels(samples)
                ramp = w_u / self.unsup_loss_weight if self.unsup_loss_weight > 0 else 1.0
                outputs = aux_logits if (aux_logits and self.weak_loss_on == 'aux') else [main_logits]
                weak_loss = sum(self._cross_entropy(out, weak_labels) for out in outputs) / len(outputs)
                losses['loss_weak'] = weak_loss * self.weak_loss_weight * ramp
        if not losses:
            raise ValueError('CCTSegmentor.loss: empty batch')
        losses['unsup_weight'] = torch.tensor(float(w_u), device=inputs.device)
        return losses
