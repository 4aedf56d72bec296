# IRNet training data (IRN's step/train_irn.py): VOC train_aug images with their inter-pixel
# relation labels (tools/cams_to_ir_labels.py) as masks; IRN's augmentation: rescale by a random
# factor in [0.5, 1.5], horizontal flip, random 512 crop (image padded with the mean, label with 255).
_base_ = ['./voc12aug.py']
dataset_type = 'VOCSegmentationDataset'
data_root = {{_base_.data_root}}
# The IR-label folder: absolute (a relative mask_dir would be joined to data_root), here
# <repo>/work_dirs/ir_labels/voc12aug; `tools/cams_to_ir_labels.py <IRNet config> --cam-dir <maps>` writes it.
ir_label_dir = '{{ fileDirname }}/../../../work_dirs/ir_labels/voc12aug'
crop_size = 512
train_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='LoadVOCAnnotations'),
    dict(type='RandomRescale', scale_range=(0.5, 1.5)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomCropPad', crop_size=crop_size),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=32,  # IRN's batch (one GPU); with N GPUs use 32 / N per GPU
    num_workers=4,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='ImageSets/Segmentation/train_aug.txt',
        mask_dir=ir_label_dir,
        pipeline=train_pipeline))
