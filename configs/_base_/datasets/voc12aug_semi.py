# Semi-supervised VOC 2012 (CCT; AdvCAM Sec. 5.3): the 1,464 `train` images with ground-truth masks
# plus the 9,118 images of `train_aug` minus `train` with pseudo masks (AdvCAM -> IRN random walk,
# tools/make_sem_seg_labels.py or the pseudo-label hook). Every batch holds 10 labelled + 10 weak
# images (CCT's two loaders of batch 10; per process: divide both by the number of GPUs).
# CCT's augmentation: long side random in [0.5, 2.0] x 400, horizontal flip, random 320 crop
# (padded: image with the mean, mask with 255). Validation: VOC val, whole images, mIoU.
# The pseudo-mask folder: train_dataloader.dataset.weak.mask_dir=<folder> (absolute).
_base_ = ['./voc12aug.py', './voc12aug_tta.py']  # tta_pipeline: multi-scale + flip testing (--tta)
dataset_type = 'VOCSegmentationDataset'
data_root = {{_base_.data_root}}
pseudo_label_dir = '{{ fileDirname }}/../../../work_dirs/pseudo_masks/voc12aug'
crop_size = 320
labelled_per_batch = 10
weak_per_batch = 10
train_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='LoadVOCAnnotations'),
    dict(type='RandomResizeLong', min_long=200, max_long=800),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomCropPad', crop_size=crop_size),
    dict(type='PackSegInputs'),
]
val_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='LoadVOCAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=labelled_per_batch + weak_per_batch,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='SemiSupervisedSampler', labelled_per_batch=labelled_per_batch,
                 weak_per_batch=weak_per_batch, infinite=True),  # epochs of the weak part, back to back
    dataset=dict(
        type='SemiSupervisedDataset',
        labelled=dict(
            type=dataset_type,
            data_root=data_root,
            ann_file='ImageSets/Segmentation/train.txt',
            mask_dir='SegmentationClassAug',
            pipeline=train_pipeline),
        weak=dict(
            type='VOCSplitDifferenceDataset',
            data_root=data_root,
            ann_file='ImageSets/Segmentation/train_aug.txt',
            exclude_ann_file='ImageSets/Segmentation/train.txt',
            mask_dir=pseudo_label_dir,
            pipeline=train_pipeline)))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='ImageSets/Segmentation/val.txt',
        mask_dir='SegmentationClass',
        pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
