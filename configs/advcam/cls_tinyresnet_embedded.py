# The CAM classifier on the embedded dataset: the VOC recipe with a narrow ResNet-18
# (16 base channels, trained from scratch, so BN and stem are trained and SGD uses
# momentum) so that AdvCAM runs in minutes on 2 CPU cores.
_base_ = [
    '../_base_/models/cam_resnet50.py', '../_base_/datasets/embedded_cls.py',
    '../_base_/default_runtime.py', '../_base_/schedules/cls_poly_5ep.py'
]
model = dict(
    data_preprocessor=dict(size=(128, 128)),
    num_classes=4,
    in_channels=128,
    backbone=dict(depth=18, stem_channels=16, base_channels=16, frozen_stages=-1,
                  norm_eval=False, init_cfg=None))
optim_wrapper = dict(optimizer=dict(lr=0.05, momentum=0.9))
train_cfg = dict(max_epochs=15, val_interval=5)
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=True, begin=0, end=15,
         convert_to_iter_based=True)
]
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=5))
label_generation = dict(scales=(1.0, 0.5, 1.5))
