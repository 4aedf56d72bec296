# DeepLab-v2 of the embedded setup: the ASPP-v2 head (rates 6/12/18/24, summed) on the narrow ResNet-18
# of cam_r18-w16.py (16 base channels) dilated to output stride 8 (dilations 2/4), which starts from
# the trained classifier (init_cfg.checkpoint; no ImageNet weights exist for it), so its BatchNorm is
# trained (requires_grad, norm_eval False), unlike the frozen BN of the ImageNet ResNet-101.
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    size=(96, 96),  # the training crop
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='EncoderDecoderWithCRF',
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
        style='pytorch',
        frozen_stages=-1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        contract_dilation=False,
        init_cfg=dict(type='Pretrained', checkpoint=None, prefix='backbone.')),
    decode_head=dict(
        type='ASPPV2Head',
        in_channels=128,
        num_classes=21,
        dilations=(6, 12, 18, 24),
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(
        mode='whole',
        # DeepLab-v2's VOC CRF (kazuto1011/deeplab-pytorch configs/voc12.yaml), as deeplabv2_r101.py.
        crf=dict(enabled=False, t=10, gaussian_sxy=1, gaussian_compat=3,
                 bilateral_sxy=67, bilateral_srgb=3, bilateral_compat=4)))
