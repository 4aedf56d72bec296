# CCT on the embedded dataset (tools/make_embedded_dataset.py): the VOC recipe with the narrow
# ResNet-18 of cls_tinyresnet_embedded.py (16 base channels, output stride 8 with dilations 2/4),
# a 32-channel pyramid pooling, crop 128, batch 4 labelled + 4 weak, one auxiliary decoder per
# perturbation and 200 iterations, so that it trains in about 2 minutes on 2 CPU cores.
# Labelled: embedded `train` (60 images, ground truth); weak: `train_aug` minus `train` (100 images)
# with pseudo masks from `pseudo_label_dir` (absolute), e.g. the folder tools/make_pseudo_labels.py
# or the DeepLab-v2 config's AdvCAMPseudoLabelHook filled for train_aug.
# No ImageNet weights exist for this backbone: as deeplabv2_tinyresnet_embedded.py, it starts from
# the trained embedded classifier's backbone. Paths via --cfg-options, e.g.
#   python tools/train.py configs/advcam/cct_tinyresnet_embedded_semi.py \
#       --cfg-options train_dataloader.dataset.weak.mask_dir=$PWD/work_dirs/pseudo_labels/embedded \
#       model.backbone.init_cfg.checkpoint=work_dirs/cls_tinyresnet_embedded/epoch_15.pth
#   (model.backbone.init_cfg=None trains from scratch)
classifier_checkpoint = 'work_dirs/cls_tinyresnet_embedded/epoch_15.pth'

_base_ = [
    '../_base_/models/cct_r50.py', '../_base_/datasets/voc_semi.py',
    '../_base_/default_runtime.py', '../_base_/schedules/cct_poly_80ep.py',
    '../_base_/datasets/embedded_metainfo.py'
]
data_root = {{_base_.embedded_data_root}}
pseudo_label_dir = '{{ fileDirname }}/../../work_dirs/pseudo_labels/embedded'
metainfo = {{_base_.embedded_metainfo}}
crop_size = 128
labelled_per_batch = 4
weak_per_batch = 4
max_iters = 200
val_interval = 100

model = dict(
    data_preprocessor=dict(size=(crop_size, crop_size)),
    backbone=dict(
        _delete_=True,
        type='ResNet', depth=18, stem_channels=16, base_channels=16,
        strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4), out_indices=(3, ), style='pytorch',
        contract_dilation=False, norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False,
        init_cfg=dict(type='Pretrained', checkpoint=classifier_checkpoint, prefix='backbone.')),
    neck=dict(in_channels=128, channels=32),
    decode_head=dict(in_channels=32, num_classes=5),
    perturbations=dict(
        vat=dict(num=1, xi=1e-6, eps=2.0),
        drop=dict(num=1, drop_rate=0.5, spatial=True),
        cutout=dict(num=1, erase=0.4),
        context_masking=dict(num=1),
        object_masking=dict(num=1),
        feature_drop=dict(num=1),
        feature_noise=dict(num=1, uniform_range=0.3)))

train_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='LoadVOCAnnotations'),
    dict(type='RandomResizeLong', min_long=96, max_long=160),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomCropPad', crop_size=crop_size),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=labelled_per_batch + weak_per_batch,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(labelled_per_batch=labelled_per_batch, weak_per_batch=weak_per_batch),
    dataset=dict(
        labelled=dict(data_root=data_root, metainfo=metainfo, pipeline=train_pipeline),
        weak=dict(data_root=data_root, metainfo=metainfo, mask_dir=pseudo_label_dir,
                  pipeline=train_pipeline)))
val_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(lr=0.05), paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=1.0)}))
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False, begin=0, end=max_iters)
]
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=val_interval, save_best=None))
