# Step 4 of AdvCAM: DeepLab-v2 (ResNet-101, ASPP-v2) trained on AdvCAM + IRN pseudo masks of
# VOC 2012 train_aug, evaluated on val: the recipe that made the paper's 68.1 val / 68.0 test
# (Table 4; multi-scale + CRF testing). The author gave it in jbeomlee93/AdvCAM #9, where a user
# following the paper's text reached 62.9 (64.9 with CRF): on top of DeepLab-v2's defaults
# (deeplabv2_r101_20k_voc12aug-papertext.py, the base here) it trains
#   * 30k iterations instead of 20k (batch 10, SGD lr 2.5e-4 with 10x on the head, poly 0.9),
#   * on images rescaled by a factor drawn from 0.5, 0.75, ..., 2.0 instead of 0.5 ... 1.5,
#   * with a balanced cross-entropy "similar to DSRG" (background and foreground pixels averaged
#     separately, advcam_mm.models.losses.BalancedCrossEntropyLoss) instead of plain CE,
#   * from an ImageNet-pretrained ResNet-101 (as the base: torchvision://resnet101).
# docs/reproduce_voc.md lists what still differs from the author's deeplab-pytorch code.
#   python tools/train.py configs/advcam/deeplabv2_voc.py        (this config)
#   bash tools/dist_train.sh configs/advcam/deeplabv2_voc.py 2 --cfg-options train_dataloader.batch_size=5
#   python tools/test.py configs/advcam/deeplabv2_voc.py work_dirs/deeplabv2_voc --tta \
#       --cfg-options model.test_cfg.crf.enabled=True
_base_ = ['./deeplabv2_r101_20k_voc12aug-papertext.py']
crop_size = {{_base_.crop_size}}
# deeplab-pytorch's augmentation (libs/datasets/base.py): one factor of the list by random.choice,
# image bilinear, mask nearest; then a random crop (padded to 321 by the data_preprocessor) and flip.
train_scales = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0]
train_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='LoadVOCAnnotations'),
    dict(type='RandomChoice',
         transforms=[[dict(type='Resize', scale_factor=s, keep_ratio=True)] for s in train_scales]),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
model = dict(decode_head=dict(loss_decode=dict(_delete_=True, type='BalancedCrossEntropyLoss', loss_weight=1.0)))
max_iters = 30000
param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters, by_epoch=False)]
train_cfg = dict(max_iters=max_iters)
