# IRN's IRNet (net/resnet50_irn.py): a frozen ImageNet ResNet-50 (strides 1,2,2,1 after the /4 stem;
# weights and BatchNorm statistics fixed) whose stem output and four stages feed a class boundary
# branch and a displacement branch at stride 4; trained on pixel pairs within radius 10.
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    size=(512, 512),  # the training crop (every crop already has it)
    pad_val=0,  # padding after normalisation is 0, as IRN's crop pads the normalised image
    seg_pad_val=255)
model = dict(
    type='IRNet',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='ResNet',
        depth=50,
        strides=(1, 2, 2, 1),
        dilations=(1, 1, 1, 1),
        out_indices=(0, 1, 2, 3),
        style='pytorch',
        frozen_stages=4,   # the whole backbone is frozen (IRNet also freezes it itself)
        norm_eval=True,
        norm_cfg=dict(type='BN', requires_grad=False),
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')),
    in_channels=(64, 256, 512, 1024, 2048),  # stem output, layer1..layer4
    feature_strides=(4, 4, 8, 16, 16),
    edge_channels=32,
    displacement_channels=(64, 128, 256, 256, 256),
    displacement_fuse_channels=256,
    radius=10,
    test_pad_size=512)
