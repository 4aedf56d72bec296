# IRNet training data on the embedded dataset (tools/make_embedded_dataset.py): the VOC recipe with
# data_root, the class list, the IR-label folder, the crop (the rule of ../embedded_scale.py) and the batch
# changed: 4 crops, what the time budget allows (the length: ../schedules/irnet_poly_100ep.py).
_base_ = ['./voc12aug_ir_labels.py', './embedded.py']
data_root = {{_base_.embedded_data_root}}
ir_label_dir = '{{ fileDirname }}/../../../work_dirs/ir_labels/embedded'
metainfo = {{_base_.embedded_metainfo}}
crop_size = {{_base_.embedded_irn_crop}}
train_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='LoadVOCAnnotations'),
    dict(type='RandomRescale', scale_range=(0.5, 1.5)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomCropPad', crop_size=crop_size),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo, mask_dir=ir_label_dir, pipeline=train_pipeline))
