"""CCTSegmentor honours test_cfg.crf as EncoderDecoderWithCRF; SegTTAModelWithCRF merges CCT's way (mean logits)."""
import copy
import os

import mmcv
import torch
from mmengine.config import Config
from mmengine.structures import PixelData

import advcam_mm  # noqa: F401  (registers the components)
from advcam_mm.core.crf import crf_inference_prob
from advcam_mm.models.crf_postprocess import DEEPLAB_V2_CRF
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

CONFIGS = os.path.join(os.path.dirname(__file__), '..', '..', 'configs', 'advcam')
SIZE = 128  # the embedded dataset's images


def tiny_cct(crf_enabled):
    """The VOC CCT config with the embedded config's tiny encoder, no auxiliary decoders, random weights."""
    cfg = Config.fromfile(os.path.join(CONFIGS, 'cct_r50_80ep_voc12aug-semi.py'))
    tiny = Config.fromfile(os.path.join(CONFIGS, 'cct_r18-w16_600it_embedded-semi.py'))
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone = copy.deepcopy(tiny.model.backbone)
    model_cfg.backbone.init_cfg = None
    model_cfg.neck.update(in_channels=128, channels=32)
    model_cfg.decode_head.update(in_channels=32, num_classes=5)
    model_cfg.perturbations = {}
    model_cfg.data_preprocessor['size'] = (SIZE, SIZE)
    model_cfg.test_cfg.crf.enabled = crf_enabled
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    model.init_weights()
    return model.eval()


def image_batch(model, path):
    image = mmcv.imread(path)  # BGR as LoadImageFromFile
    sample = SegDataSample(metainfo=dict(img_path=path, ori_shape=(SIZE, SIZE), img_shape=(SIZE, SIZE),
                                         pad_shape=(SIZE, SIZE), padding_size=[0, 0, 0, 0]))
    data = dict(inputs=[torch.from_numpy(image).permute(2, 0, 1).contiguous()], data_samples=[sample])
    return model.data_preprocessor(data, False)


def test_cct_segmentor_refines_with_deeplab_crf(embedded_voc_root, mmseg_scope):
    path = os.path.join(embedded_voc_root, 'JPEGImages', sorted(os.listdir(os.path.join(embedded_voc_root,
                                                                                        'JPEGImages')))[0])
    plain, refined = tiny_cct(False), tiny_cct(True)
    refined.load_state_dict(plain.state_dict())
    assert plain.crf is None and refined.crf == DEEPLAB_V2_CRF
    with torch.no_grad():
        data = image_batch(plain, path)
        without = plain.predict(data['inputs'], data['data_samples'])[0]
        data = image_batch(refined, path)
        with_crf = refined.predict(data['inputs'], data['data_samples'])[0]
    # the straightforward version: DeepLab-v2's CRF on the softmax of the plain prediction
    probs = without.seg_logits.data.softmax(dim=0).numpy()
    settings = dict(DEEPLAB_V2_CRF)
    expected = crf_inference_prob(mmcv.imread(path, channel_order='rgb'), probs, t=settings.pop('t'), **settings)
    assert torch.equal(with_crf.pred_sem_seg.data[0], torch.from_numpy(expected.argmax(0)))
    assert torch.allclose(with_crf.seg_logits.data.exp(), torch.from_numpy(expected).clamp_min(1e-8), atol=1e-5)
    assert not torch.equal(with_crf.pred_sem_seg.data, without.pred_sem_seg.data)  # the CRF changed something


def test_tta_model_takes_the_crf_from_cct_and_averages_logits(mmseg_scope):
    model = tiny_cct(True)
    tta = MODELS.build(dict(type='SegTTAModelWithCRF', module=model, view_average='logits'))
    assert tta.crf == DEEPLAB_V2_CRF and model.crf is None  # refined once, after merging
    tta.crf = None  # merging alone (the CRF needs image files)
    # three views of one pixel: softmax-averaging votes class 0, logit-averaging class 1 (CCT's inference.py)
    views = []
    for logits in ([0.0, 20.0], [3.0, 0.0], [3.0, 0.0]):
        view = SegDataSample(metainfo=dict(img_path='x.png'))
        view.seg_logits = PixelData(data=torch.tensor(logits).view(2, 1, 1))
        views.append(view)
    merged, = tta.merge_preds([views])
    assert merged.pred_sem_seg.data.item() == 1
    mean_logits = torch.tensor([2.0, 20.0 / 3])
    assert torch.allclose(merged.seg_logits.data.view(2), mean_logits.log_softmax(0), atol=1e-6)
    tta.view_average = 'softmax'
    assert tta.merge_preds([views])[0].pred_sem_seg.data.item() == 0
