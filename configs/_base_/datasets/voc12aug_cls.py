# PASCAL VOC 2012 multi-label classification (train_aug image labels), IRN's classifier pipeline.
_base_ = ['./voc12aug.py']
dataset_type = 'VOCClassificationDataset'
data_root = {{_base_.data_root}}
crop_size = 512
train_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='RandomResizeLong', min_long=320, max_long=640),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomCropPad', crop_size=crop_size),
    dict(type='PackMultiLabelInputs'),
]
val_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='PackMultiLabelInputs'),
]
train_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='ImageSets/Segmentation/train_aug.txt',
        cls_labels_file='cls_labels.npy',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='ImageSets/Segmentation/val.txt',
        cls_labels_file='cls_labels.npy',
        pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='MultiLabelMetric')
test_evaluator = val_evaluator
