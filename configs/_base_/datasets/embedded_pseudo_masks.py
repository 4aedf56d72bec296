# Segmentation on pseudo masks on the embedded dataset (tools/make_embedded_dataset.py): the VOC recipe
# (voc12aug_pseudo_masks.py) with only data_root, the class list, the mask folder and the crop size changed
# (DeepLab-v2's 321 by ../embedded_scale.py's rule).
_base_ = ['./voc12aug_pseudo_masks.py', './embedded.py']
data_root = {{_base_.embedded_data_root}}
pseudo_label_dir = '{{ fileDirname }}/../../../work_dirs/pseudo_masks/embedded'
metainfo = {{_base_.embedded_metainfo}}
crop_size = ({{_base_.embedded_segmentation_crop}}, {{_base_.embedded_segmentation_crop}})
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
