# CCT on the embedded dataset: the VOC recipe (cct_r50_80ep_voc12aug-semi.py) on the narrow ResNet-18 of
# the embedded classifier (its trained backbone as the start), one auxiliary decoder per perturbation,
# crop 128, batch 4 labelled + 4 weak, 200 iterations. Labelled: `train` (ground truth); weak:
# `train_aug` minus `train` with the pseudo masks of train_dataloader.dataset.weak.mask_dir, e.g.
#   python tools/train.py configs/advcam/cct_r18-w16_200it_embedded-semi.py \
#       --cfg-options train_dataloader.dataset.weak.mask_dir=$PWD/work_dirs/pseudo_masks/embedded
_base_ = [
    '../_base_/models/cct_r18-w16.py', '../_base_/datasets/embedded_semi.py', '../_base_/default_runtime.py',
    '../_base_/schedules/cct_poly_200it.py'
]
model = dict(
    backbone=dict(init_cfg=dict(checkpoint='work_dirs/cam_r18-w16_15ep_embedded/epoch_15.pth')),
    decode_head=dict(num_classes=5))
# tools/test.py --tta: CCT's multi-scale inference (logits averaged), then (when enabled) the dense CRF once.
tta_model = dict(type='SegTTAModelWithCRF', view_average='logits')
