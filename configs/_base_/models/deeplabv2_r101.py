# DeepLab-v2 (Chen et al., TPAMI 2017) as AdvCAM trains it: ResNet-101 with output stride 8
# (layer3/layer4 strides 1 with dilations 2/4), ImageNet initialisation (torchvision weights),
# BatchNorm frozen (statistics and affine, as DeepLab-v2's batch of 10 cannot estimate them),
# and the ASPP-v2 head: four parallel 3x3 convs with dilations 6/12/18/24 straight to class
# scores, summed (advcam_mm.models.ASPPV2Head; no image pooling, no auxiliary head).
# Test: whole image; the dense CRF of DeepLab-v2 is off by default, switch it on with
#   --cfg-options model.test_cfg.crf.enabled=True
# (experiment configs set tta_model=dict(type='SegTTAModelWithCRF'): with --tta it runs once on
# the merged views).
norm_cfg = dict(type='BN', requires_grad=False)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    size=(321, 321),  # training crops are padded to 321x321: image with the mean (0 after
    pad_val=0,        # normalisation), label with the ignore index, as DeepLab-v2's crop
    seg_pad_val=255)
model = dict(
    type='EncoderDecoderWithCRF',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='ResNet',
        depth=101,
        num_stages=4,
        out_indices=(3, ),
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        style='pytorch',
        frozen_stages=-1,
        norm_cfg=norm_cfg,
        norm_eval=True,
        contract_dilation=False,
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet101')),
    decode_head=dict(
        type='ASPPV2Head',
        in_channels=2048,
        num_classes=21,
        dilations=(6, 12, 18, 24),
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(
        mode='whole',
        # DeepLab-v2's VOC CRF (kazuto1011/deeplab-pytorch configs/voc12.yaml: iter_max 10,
        # pos_w 3, pos_xy_std 1, bi_w 4, bi_xy_std 67, bi_rgb_std 3), in crf_inference_prob's names.
        crf=dict(enabled=False, t=10, gaussian_sxy=1, gaussian_compat=3,
                 bilateral_sxy=67, bilateral_srgb=3, bilateral_compat=4)))
