# Any MMSeg segmentor trains on the same AdvCAM labels: MMSeg's stock DeepLabV3+ (ResNetV1c-101)
# with its VOC-aug recipe (512x512 crops, 4 GPUs x batch 4, SGD lr 0.01 poly to 1e-4, 20k
# iterations), but with masks from the same pseudo-label folder and hook as deeplabv2_voc.py
# (same folder + same settings: the labels made for one are reused by the other).
#   bash tools/dist_train.sh configs/advcam/deeplabv3plus_r101-d8_20k_voc12aug.py 4
_base_ = [
    '../_base_/models/deeplabv3plus_r101-d8.py', '../_base_/datasets/voc12aug_pseudo_masks.py',
    '../_base_/hooks/pseudo_label_voc12aug.py', '../_base_/default_runtime.py',
    '../_base_/schedules/deeplabv2_poly_20k.py'
]
crop_size = (512, 512)
train_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='LoadVOCAnnotations'),
    dict(type='RandomResize', scale=(2048, 512), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='Resize', scale=(2048, 512), keep_ratio=True),
    dict(type='LoadVOCAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(batch_size=4, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
tta_model = dict(type='SegTTAModel')
# MMSeg's schedule_20k: SGD lr 0.01, momentum 0.9, wd 5e-4, poly (0.9) to 1e-4, 20k iterations.
optim_wrapper = dict(_delete_=True, type='OptimWrapper',
                     optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4), clip_grad=None)
param_scheduler = [dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=20000, by_epoch=False)]
