# PASCAL VOC 2012 semantic segmentation trained on pseudo labels: train_aug images whose masks
# are read from `pseudo_label_dir` (filled before the first iteration by AdvCAMPseudoLabelHook,
# which takes the folder from this dataset: one setting, train_dataloader.dataset.mask_dir),
# validated on VOC val against the ground truth in SegmentationClass.
# DeepLab-v2's augmentation: rescale by a random factor in [0.5, 1.5], random 321x321 crop,
# horizontal flip; crops smaller than 321 are padded by the data_preprocessor (size=(321, 321)).
_base_ = ['./voc12aug.py', './voc12aug_tta.py']  # tta_pipeline: multi-scale + flip testing (--tta)
dataset_type = 'VOCSegmentationDataset'
data_root = {{_base_.data_root}}
# Absolute (a relative mask_dir is joined to data_root): <repo>/work_dirs/pseudo_labels/voc
pseudo_label_dir = '{{ fileDirname }}/../../../work_dirs/pseudo_masks/voc12aug'
crop_size = (321, 321)
train_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='LoadVOCAnnotations'),
    dict(type='RandomRescale', scale_range=(0.5, 1.5)),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='LoadVOCAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=10,  # DeepLab-v2's batch (one GPU); with N GPUs use 10 / N per GPU
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='ImageSets/Segmentation/train_aug.txt',
        mask_dir=pseudo_label_dir,
        check_files=False,  # the masks appear only when the hook has run (before the first iteration)
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='ImageSets/Segmentation/val.txt',
        mask_dir='SegmentationClass',
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
