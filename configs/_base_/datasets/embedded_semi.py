# Semi-supervised data on the embedded dataset: the VOC recipe (voc12aug_semi.py) with only data_root,
# the class list, the sizes and the batch changed. Labelled: `train` (ground truth); weak: `train_aug`
# minus `train` with pseudo masks from `pseudo_label_dir` (absolute). Sizes by ../embedded_scale.py's rule:
#   crop: CCT's 320 px -> 96 (embedded_segmentation_crop);
#   RandomResizeLong 51-205: CCT's long side 400 x [0.5, 2.0] for ~500-px-long images is 0.4-1.6 of the
#       image's long side: 0.4 x 128 = 51, 1.6 x 128 = 205.
# Batch: 5 pixel-labelled + 5 pseudo-labelled (CCT's 1:1 mix), DeepLab-v2's 10 crops here.
_base_ = ['./voc12aug_semi.py', './embedded.py']
data_root = {{_base_.embedded_data_root}}
pseudo_label_dir = '{{ fileDirname }}/../../../work_dirs/pseudo_masks/embedded'
metainfo = {{_base_.embedded_metainfo}}
crop_size = {{_base_.embedded_segmentation_crop}}
labelled_per_batch = 5
weak_per_batch = 5
train_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='LoadVOCAnnotations'),
    dict(type='RandomResizeLong', min_long=51, max_long=205),
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
