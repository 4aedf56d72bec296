# DeepLab-v2 on the embedded dataset: the VOC recipe (deeplabv2_voc.py) with the narrow ResNet-18
# of cls_tinyresnet_embedded.py (16 base channels, output stride 8 with dilations 2/4), 96x96
# crops and 600 iterations (about a minute on 2 CPU cores; 52 -> 64 val mIoU from 300 to 600
# iterations when trained on the ground-truth masks).
# No ImageNet weights exist for this backbone: it starts from the trained embedded classifier's
# backbone (the same checkpoint the pseudo-label hook attributes). Run the classifier and IRNet
# first (tools/pipeline.py does it all), or point the paths elsewhere with --cfg-options:
#   custom_hooks.0.classifier_checkpoint=... model.backbone.init_cfg.checkpoint=...
#   custom_hooks.0.refiner.checkpoint=...   (or custom_hooks.0.refiner=crf: CRF seeds, no IRNet)
classifier_config = '{{ fileDirname }}/cls_tinyresnet_embedded.py'
classifier_checkpoint = 'work_dirs/cls_tinyresnet_embedded/epoch_15.pth'
irn_config = '{{ fileDirname }}/irn_tinyresnet_embedded.py'
irn_checkpoint = 'work_dirs/irn_tinyresnet_embedded/epoch_3.pth'
advcam_maps_dir = 'work_dirs/advcam_maps/embedded_train_aug'

_base_ = ['./deeplabv2_voc.py', '../_base_/datasets/embedded_metainfo.py']
data_root = {{_base_.embedded_data_root}}
pseudo_label_dir = '{{ fileDirname }}/../../work_dirs/pseudo_labels/embedded'
metainfo = {{_base_.embedded_metainfo}}
crop_size = (96, 96)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        depth=18, stem_channels=16, base_channels=16,
        norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False,
        init_cfg=dict(type='Pretrained', checkpoint=classifier_checkpoint, prefix='backbone.')),
    decode_head=dict(in_channels=128, num_classes=5))
train_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='LoadVOCAnnotations'),
    dict(type='RandomRescale', scale_range=(0.5, 1.5)),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo, mask_dir=pseudo_label_dir, pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo))
test_dataloader = val_dataloader
# A larger learning rate than DeepLab-v2's 2.5e-4 (the backbone is small and training short).
optim_wrapper = dict(optimizer=dict(lr=0.01))
param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=600, by_epoch=False)]
train_cfg = dict(max_iters=600, val_interval=600)
default_hooks = dict(logger=dict(interval=50), checkpoint=dict(interval=600),
                     visualization=dict(type='SegVisualizationHook'))
custom_hooks = [
    dict(type='AdvCAMPseudoLabelHook',
         classifier_config=classifier_config,
         classifier_checkpoint=classifier_checkpoint,
         method='advcam',  # parameters: cls_tinyresnet_embedded.py's label_generation
         refiner=dict(type='irn', config=irn_config, checkpoint=irn_checkpoint),
         maps_dir=advcam_maps_dir)
]
