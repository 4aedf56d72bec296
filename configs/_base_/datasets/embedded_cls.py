# The embedded default dataset (tools/make_embedded_dataset.py) in VOC layout: the VOC
# classification dataset with only data_root, the class list and image sizes changed. Sizes follow the
# rule of ../embedded_scale.py (x 128 / 433): IRN resizes the long side to 320-640 px, 0.64-1.28 of a
# ~500-px-long VOC image -> 82-164 px here; its 512 crop -> 160 (embedded_irn_crop).
_base_ = ['./voc12aug_cls.py', './embedded.py']
data_root = {{_base_.embedded_data_root}}
metainfo = {{_base_.embedded_metainfo}}
crop_size = {{_base_.embedded_irn_crop}}
train_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='RandomResizeLong', min_long=82, max_long=164),
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
