# IRNet on the embedded dataset: the VOC recipe with the narrow ResNet-18 of
# cls_tinyresnet_embedded.py (16 base channels) and crop 128, so it trains in a minute on 2 CPU cores.
# No ImageNet weights exist for this backbone: it is the trained embedded classifier's backbone,
# frozen as IRN freezes its ImageNet ResNet-50. Train the classifier first, or point
# model.backbone.init_cfg.checkpoint at its checkpoint (--cfg-options).
_base_ = [
    '../_base_/models/irn_resnet50.py', '../_base_/datasets/embedded_irn.py',
    '../_base_/default_runtime.py', '../_base_/schedules/irn_poly_3ep.py'
]
classifier_checkpoint = 'work_dirs/cls_tinyresnet_embedded/epoch_15.pth'
model = dict(
    data_preprocessor=dict(size=(128, 128)),
    backbone=dict(
        depth=18, stem_channels=16, base_channels=16,
        init_cfg=dict(type='Pretrained', checkpoint=classifier_checkpoint, prefix='backbone.')),
    in_channels=(16, 16, 32, 64, 128),
    edge_channels=16,
    displacement_channels=(16, 32, 64, 64, 64),
    displacement_fuse_channels=64,
    test_pad_size=128)
default_hooks = dict(logger=dict(interval=10))
