# CCT (Ouali et al., CVPR 2020; yassouali/CCT configs/config.json) on VOC: encoder = deep-stem
# ResNet-50 dilated to output stride 8 (mmseg ResNetV1c, strides 1,2,1,1, dilations 1,1,2,4) and a
# pyramid pooling module (bins 1,2,3,6) to 512 channels; main and auxiliary decoders = 1x1 conv to
# the classes + three x2 pixel-shuffle steps (upscale 8). Auxiliary decoders per perturbation:
# vat 2 (xi 1e-6, eps 2.0), drop 6 (0.5, spatial), cutout 6 (erase 0.4), context_masking 2,
# object_masking 2, feature_drop 6, feature_noise 6 (uniform 0.3). Unsupervised weight 30 with a
# sigmoid ramp-up over the first 10 % of iterations, supervised CE (ab-CE: sup_loss=dict(type='abCE')),
# weak-label CE weight 0.4. ResNet-101: backbone.depth=101 and the resnet101_v1c checkpoint.
# BN as in CCT's single-GPU runs; on several GPUs SyncBN (norm_cfg.type='SyncBN') keeps the
# statistics of the 10 + 10 batch. Test: the main decoder, whole image; test_cfg.crf adds the dense
# CRF (CCTSegmentor is an EncoderDecoderWithCRF).
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    size=(320, 320),  # the training crop
    pad_val=0,
    seg_pad_val=255)
decode_head = dict(
    type='CCTUpsamplingHead',
    in_channels=512,
    num_classes=21,
    upscale=8,
    ignore_index=255,
    align_corners=True)
model = dict(
    type='CCTSegmentor',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='ResNetV1c',
        depth=50,
        num_stages=4,
        out_indices=(3, ),
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        contract_dilation=True,
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint='open-mmlab://resnet50_v1c')),
    neck=dict(type='PyramidPoolingNeck', in_channels=2048, channels=512, bin_sizes=(1, 2, 3, 6),
              norm_cfg=norm_cfg, align_corners=False),  # CCT's models/encoder.py _PSPModule
    decode_head=decode_head,
    perturbations=dict(
        vat=dict(num=2, xi=1e-6, eps=2.0),
        drop=dict(num=6, drop_rate=0.5, spatial=True),
        cutout=dict(num=6, erase=0.4),
        context_masking=dict(num=2),
        object_masking=dict(num=2),
        feature_drop=dict(num=6),
        feature_noise=dict(num=6, uniform_range=0.3)),
    sup_loss=dict(type='CE'),
    sup_loss_weight=1.0,
    unsup_loss_weight=30.0,
    rampup_ratio=0.1,
    weak_loss_weight=0.4,
    weak_loss_on='aux',
    train_cfg=dict(),
    test_cfg=dict(
        mode='whole',
        # Dense CRF after the (merged) prediction, off by default; the author's semi-supervised
        # protocol switches it on (jbeomlee93/AdvCAM #12, pointing to deeplab-pytorch): DeepLab-v2's
        # VOC CRF (configs/voc12.yaml: iter_max 10, pos_w 3, pos_xy_std 1, bi_w 4, bi_xy_std 67,
        # bi_rgb_std 3), in crf_inference_prob's names, as in deeplabv2_r101.py.
        crf=dict(enabled=False, t=10, gaussian_sxy=1, gaussian_compat=3,
                 bilateral_sxy=67, bilateral_srgb=3, bilateral_compat=4)))
