# The CAM classifier of the embedded setup: IRN's design (output stride 16: stem /4, strides
# 1,2,2,1; GAP; bias-free 1x1 conv) on a narrow ResNet-18 (16 base channels, 128 channels at the
# last stage) trained from scratch, so its stem and BatchNorm are trained too (no ImageNet weights
# exist for it). It runs AdvCAM in minutes on 2 CPU cores.
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    size=(160, 160),  # the training crop (../embedded_scale.py: embedded_irn_crop)
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='CAMClassifier',
    data_preprocessor=data_preprocessor,
    num_classes=20,
    in_channels=128,
    backbone=dict(
        type='ResNet',
        depth=18,
        stem_channels=16,
        base_channels=16,
        strides=(1, 2, 2, 1),
        dilations=(1, 1, 1, 1),
        out_indices=(3, ),
        style='pytorch',
        frozen_stages=-1,
        norm_eval=False,
        norm_cfg=dict(type='BN', requires_grad=True),
        init_cfg=None))
