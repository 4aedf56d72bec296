# The embedded default dataset (tools/make_embedded_dataset.py) in VOC layout: the VOC
# classification dataset with only data_root, the class list and image sizes changed.
_base_ = ['./voc12aug_cls.py', './embedded.py']
data_root = {{_base_.embedded_data_root}}
metainfo = {{_base_.embedded_metainfo}}
crop_size = 128
train_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='RandomResizeLong', min_long=96, max_long=160),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomCropPad', crop_size=crop_size),
    dict(type='PackMultiLabelInputs'),
]
train_dataloader = dict(
    batch_size=16, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo, pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo))
test_dataloader = val_dataloader
