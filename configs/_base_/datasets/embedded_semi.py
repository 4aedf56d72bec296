# Semi-supervised data on the embedded dataset: the VOC recipe (voc12aug_semi.py) with only data_root,
# the class list, the crop and batch sizes changed. Labelled: `train` (ground truth); weak: `train_aug`
# minus `train` with pseudo masks from `pseudo_label_dir` (absolute).
_base_ = ['./voc12aug_semi.py', './embedded.py']
data_root = {{_base_.embedded_data_root}}
pseudo_label_dir = '{{ fileDirname }}/../../../work_dirs/pseudo_masks/embedded'
metainfo = {{_base_.embedded_metainfo}}
crop_size = 128
labelled_per_batch = 4
weak_per_batch = 4
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
        weak=dict(data_root=data_root, metainfo=metainfo, mask_dir=pseudo_label_dir, pipeline=train_pipeline)))
val_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo))
test_dataloader = val_dataloader
