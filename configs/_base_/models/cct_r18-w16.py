# CCT of the embedded setup: CCT's design (cct_r50.py: main decoder, one auxiliary decoder per
# perturbation type here instead of 30, the same losses and weights) on the narrow ResNet-18 of
# cam_r18-w16.py dilated to output stride 8, with a 32-channel pyramid pooling; the backbone starts
# from the trained classifier (init_cfg.checkpoint; no ImageNet weights exist for it). The backbone's
# BatchNorm is frozen at the classifier's statistics: CCT trains it with 10 + 10 images per GPU; 5 + 5
# crops of 96 px cannot estimate them, as DeepLab-v2 freezes its ImageNet ResNet's at a batch of 10
# (measured on a draft of the generator: val 36.4 -> 44.3). The neck's BatchNorm trains, as CCT's.
norm_cfg = dict(type='BN', requires_grad=True)
backbone_norm_cfg = dict(type='BN', requires_grad=False)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    size=(96, 96),  # the training crop (../embedded_scale.py: embedded_segmentation_crop)
    pad_val=0,
    seg_pad_val=255)
decode_head = dict(
    type='CCTUpsamplingHead',
    in_channels=32,
    num_classes=21,
    upscale=8,
    ignore_index=255,
    align_corners=True)
model = dict(
    type='CCTSegmentor',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='ResNet',
        depth=18,
        stem_channels=16,
        base_channels=16,
        num_stages=4,
        out_indices=(3, ),
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        contract_dilation=False,
        norm_cfg=backbone_norm_cfg,
        norm_eval=True,
        style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint=None, prefix='backbone.')),
    neck=dict(type='PyramidPoolingNeck', in_channels=128, channels=32, bin_sizes=(1, 2, 3, 6),
              norm_cfg=norm_cfg, align_corners=False),  # CCT's models/encoder.py _PSPModule
    decode_head=decode_head,
    perturbations=dict(
        vat=dict(num=1, xi=1e-6, eps=2.0),
        drop=dict(num=1, drop_rate=0.5, spatial=True),
        cutout=dict(num=1, erase=0.4),
        context_masking=dict(num=1),
        object_masking=dict(num=1),
        feature_drop=dict(num=1),
        feature_noise=dict(num=1, uniform_range=0.3)),
    sup_loss=dict(type='CE'),
    sup_loss_weight=1.0,
    unsup_loss_weight=30.0,
    rampup_ratio=0.1,
    weak_loss_weight=0.4,
    weak_loss_on='aux',
    train_cfg=dict(),
    test_cfg=dict(
        mode='whole',
        # DeepLab-v2's VOC CRF, as cct_r50.py; off unless the MS + flip + CRF protocol switches it on.
        crf=dict(enabled=False, t=10, gaussian_sxy=1, gaussian_compat=3,
                 bilateral_sxy=67, bilateral_srgb=3, bilateral_compat=4)))
