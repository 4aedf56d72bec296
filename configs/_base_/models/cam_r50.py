# IRN's CAM classifier: ResNet-50, output stride 16 (stem /4, strides 1,2,2,1), GAP, bias-free 1x1 conv.
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    size=(512, 512),  # the training crop
    pad_val=0,  # padding after normalisation is 0, as IRN's crop pads the normalised image
    seg_pad_val=255)
model = dict(
    type='CAMClassifier',
    data_preprocessor=data_preprocessor,
    num_classes=20,
    in_channels=2048,
    backbone=dict(
        type='ResNet',
        depth=50,
        strides=(1, 2, 2, 1),
        dilations=(1, 1, 1, 1),
        out_indices=(3, ),
        style='pytorch',
        frozen_stages=0,   # conv1/bn1 frozen (IRN)
        norm_eval=True,    # BatchNorm statistics frozen (IRN)
        norm_cfg=dict(type='BN', requires_grad=True),
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')))
