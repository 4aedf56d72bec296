# IRN's IRNet on the narrow ResNet-18 of cam_r18-w16.py (16 base channels): the backbone is frozen as
# IRN freezes its ImageNet ResNet-50, and comes from the trained classifier (init_cfg.checkpoint, set
# by the experiment config or --cfg-options); branch widths scaled to the backbone's.
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    size=(160, 160),  # the training crop (../embedded_scale.py: embedded_irn_crop)
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='IRNet',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='ResNet',
        depth=18,
        stem_channels=16,
        base_channels=16,
        strides=(1, 2, 2, 1),
        dilations=(1, 1, 1, 1),
        out_indices=(0, 1, 2, 3),
        style='pytorch',
        frozen_stages=4,
        norm_eval=True,
        norm_cfg=dict(type='BN', requires_grad=False),
        init_cfg=dict(type='Pretrained', checkpoint=None, prefix='backbone.')),
    in_channels=(16, 16, 32, 64, 128),  # stem output, layer1..layer4
    feature_strides=(4, 4, 8, 16, 16),
    edge_channels=16,
    displacement_channels=(16, 32, 64, 64, 64),
    displacement_fuse_channels=64,
    radius=3,  # ../embedded_scale.py: embedded_irn_radius (IRN: 10)
    test_pad_size=160)  # the crop, as IRN pads its 512-px crops
