"""Dense-CRF post-processing (EncoderDecoderWithCRF, SegTTAModelWithCRF) on a synthetic sharp-edged image."""
import copy
import os

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import PixelData
from PIL import Image

import advcam_mm  # noqa: F401  (registers the components)
from advcam_mm.core.crf import crf_inference_prob
from advcam_mm.models.crf_postprocess import DEEPLAB_V2_CRF, dense_crf_settings
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

REPO = os.path.join(os.path.dirname(__file__), '..', '..')
TINY_CONFIG = os.path.join(REPO, 'configs', 'advcam', 'deeplabv2_r18-w16_600it_embedded.py')
SIZE = 48


@pytest.fixture(scope='module')
def sharp_case(tmp_path_factory):
    """A bright square on a dark background (sharp edges) and a blurry, displaced, too large prediction."""
    image = np.full((SIZE, SIZE, 3), (60, 70, 60), np.uint8)
    image[12:36, 12:36] = (220, 200, 30)
    gt = np.zeros((SIZE, SIZE), np.int64)
    gt[12:36, 12:36] = 1
    yy, xx = np.mgrid[:SIZE, :SIZE]
    distance = np.maximum(abs(yy - 27.0), abs(xx - 27.0)) - 14.0  # square shifted by 3, 2 px larger
    foreground = 0.05 + 0.9 / (1 + np.exp(distance / 2.0))
    probs = np.stack([1 - foreground, foreground]).astype(np.float32)
    path = str(tmp_path_factory.mktemp('crf') / 'square.png')  # lossless: the edges stay sharp
    Image.fromarray(image).save(path)
    return dict(image=image, gt=gt, probs=probs, path=path)


def miou(pred, gt, num_classes=2):
    pred = np.asarray(pred).reshape(gt.shape)
    ious = [((pred == c) & (gt == c)).sum() / ((pred == c) | (gt == c)).sum() for c in range(num_classes)]
    return float(np.mean(ious))


def sample_of(path, size=SIZE):
    return SegDataSample(metainfo=dict(img_path=path, ori_shape=(size, size), img_shape=(size, size),
                                       padding_size=[0, 0, 0, 0]))


def build_segmentor(crf):
    cfg = Config.fromfile(TINY_CONFIG)
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.init_cfg = None
    model_cfg.decode_head.num_classes = 2
    model_cfg.test_cfg = dict(mode='whole', crf=crf)
    return MODELS.build(model_cfg)


def logits_of(probs):
    return torch.from_numpy(np.log(probs))[None]


def test_crf_improves_miou_on_sharp_edges(sharp_case, mmseg_scope):
    plain_model = build_segmentor(crf=None)
    crf_model = build_segmentor(crf=dict(DEEPLAB_V2_CRF))
    assert plain_model.crf is None and crf_model.crf == DEEPLAB_V2_CRF
    logits = logits_of(sharp_case['probs'])
    plain = plain_model.postprocess_result(logits.clone(), [sample_of(sharp_case['path'])])[0]
    refined = crf_model.postprocess_result(logits.clone(), [sample_of(sharp_case['path'])])[0]
    plain_miou = miou(plain.pred_sem_seg.data.numpy(), sharp_case['gt'])
    crf_miou = miou(refined.pred_sem_seg.data.numpy(), sharp_case['gt'])
    assert plain_miou < 0.8
    assert crf_miou >= plain_miou + 0.1 and crf_miou > 0.95
    # the stored logits are log-marginals: their softmax is the CRF output for the softmax input
    marginals = crf_inference_prob(sharp_case['image'], sharp_case['probs'], **DEEPLAB_V2_CRF)
    assert refined.pred_sem_seg.data.shape == (1, SIZE, SIZE)
    np.testing.assert_allclose(refined.seg_logits.data.softmax(0).numpy(), marginals, atol=1e-5)


def test_crf_keeps_a_correct_prediction(sharp_case, mmseg_scope):
    exact = np.where(sharp_case['gt'][None] == np.arange(2)[:, None, None], 0.9, 0.1).astype(np.float32)
    model = build_segmentor(crf=dict(enabled=True))
    refined = model.postprocess_result(logits_of(exact), [sample_of(sharp_case['path'])])[0]
    assert miou(refined.pred_sem_seg.data.numpy(), sharp_case['gt']) == 1.0


def test_disabled_crf_is_the_plain_encoder_decoder(sharp_case, mmseg_scope):
    assert dense_crf_settings(None) is None and dense_crf_settings(dict(enabled=False, t=3)) is None
    model = build_segmentor(crf=dict(enabled=False))
    logits = logits_of(sharp_case['probs'])
    out = model.postprocess_result(logits.clone(), [sample_of(sharp_case['path'])])[0]
    torch.testing.assert_close(out.seg_logits.data, logits[0])


def test_tta_model_runs_the_crf_once_on_the_merged_views(sharp_case, mmseg_scope):
    cfg = Config.fromfile(TINY_CONFIG)
    module = copy.deepcopy(cfg.model)
    module.backbone.init_cfg = None
    module.decode_head.num_classes = 2
    module.test_cfg = dict(mode='whole', crf=dict(t=5))
    tta = MODELS.build(dict(type='SegTTAModelWithCRF', module=module))
    assert tta.crf == {**DEEPLAB_V2_CRF, 't': 5} and tta.module.crf is None  # views are not refined
    other = np.clip(sharp_case['probs'] + np.array([0.1, -0.1], np.float32)[:, None, None], 0.01, 0.99)
    views = []
    for probs in (sharp_case['probs'], other):
        view = sample_of(sharp_case['path'])
        view.seg_logits = PixelData(data=torch.from_numpy(np.log(probs)))
        view.gt_sem_seg = PixelData(data=torch.from_numpy(sharp_case['gt'])[None])
        views.append(view)
    merged = tta.merge_preds([views])[0]
    mean = (sharp_case['probs'] / sharp_case['probs'].sum(0) + other / other.sum(0)) / 2
    expected = crf_inference_prob(sharp_case['image'], mean, **{**DEEPLAB_V2_CRF, 't': 5})
    np.testing.assert_array_equal(merged.pred_sem_seg.data[0].numpy(), expected.argmax(0))
    assert 'gt_sem_seg' in merged and merged.img_path == sharp_case['path']


def test_errors_name_the_problem(sharp_case, tmp_path, mmseg_scope):
    with pytest.raises(ValueError, match='unknown dense CRF settings'):
        dense_crf_settings(dict(iter_max=10))
    model = build_segmentor(crf=dict())
    logits = logits_of(sharp_case['probs'])
    with pytest.raises(ValueError, match='no img_path'):
        model.postprocess_result(logits.clone(), [SegDataSample(metainfo=dict(ori_shape=(SIZE, SIZE)))])
    small = str(tmp_path / 'small.png')
    Image.fromarray(sharp_case['image'][:20, :20]).save(small)
    with pytest.raises(ValueError, match='small.png'):
        model.postprocess_result(logits.clone(), [sample_of(small)])
    missing = str(tmp_path / 'missing.png')
    with pytest.raises(FileNotFoundError, match='missing.png'):
        model.postprocess_result(logits.clone(), [sample_of(missing)])
