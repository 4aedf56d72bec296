# IRNet on the embedded dataset: the VOC recipe with the narrow ResNet-18 of
# cls_tinyresnet_embedded.py (16 base channels) and crop 128, so it trains in about a minute on 2 CPU cores.
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
# 3 epochs of IRN's SGD (10 iterations each here, momentum 1e-4) leave the boundary branch untrained
# on this small set: 20 epochs with momentum, lr 0.5 (5.0 for the displacement branch).
optim_wrapper = dict(optimizer=dict(lr=0.5, momentum=0.9))
train_cfg = dict(max_epochs=20)
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=True, begin=0, end=20,
         convert_to_iter_based=True)
]
default_hooks = dict(logger=dict(interval=10))
