# CCT (AdvCAM Sec. 5.3) on the embedded dataset: the VOC recipe (cct_r50_80ep_voc12aug-semi.py) on the
# narrow ResNet-18 of the embedded classifier (its trained backbone as the start, BatchNorm frozen:
# ../_base_/models/cct_r18-w16.py). Labelled: `train` (ground truth); weak: `train_aug` minus `train` with
# the pseudo masks of train_dataloader.dataset.weak.mask_dir, e.g.
#   python tools/train.py configs/advcam/cct_r18-w16_600it_embedded-semi.py \
#       --cfg-options train_dataloader.dataset.weak.mask_dir=$PWD/work_dirs/pseudo_masks/embedded
# The settings that follow from the image size or the run's length, by the rules written beside them:
# crop 96, resize 51-205, 5 + 5 crops (../_base_/datasets/embedded_semi.py); DeepLab-v2's budget and step
# sizes here (../_base_/schedules/cct_poly_600it.py); and the unsupervised weight's ramp-up: CCT ramps
# over 10 % of 72,960 iterations = 7,296, i.e. 7,296 x 10 / 1,464 = 50 passes over its pixel-labelled
# set before the consistency loss has its full weight; 50 passes over the 60 `train` images at 5 per
# batch = 600 iterations, the whole run: rampup_ratio = min(1, 600 / 600) = 1.0 (with 10 % the weight
# reaches 30 after 60 iterations, before the main decoder has learnt anything, and the model collapses).
# One auxiliary decoder per perturbation type (CCT: 2/6/6/2/2/6/6): cost.
# Decoders without ReLUs (relu=False; CCT's end each x2 step in one; the VOC config keeps them): the
# decoders are only num_classes (5) channels wide, and a unit below zero on every pixel gets no gradient
# and carries nothing from then on (in the last step: a class that is never predicted again). From the
# classifier's features (no ImageNet weights) about one class in eight starts dead, and 600 iterations on
# background-dominated crops silence more. Measured (docs/embedded_miniature.md): CCT on the 60 `train`
# images alone, generator v2, seed 0: 29.7 with CCT's ReLUs (beetle, kite never predicted), 56.7 without
# (DeepLab-v2 on the same images 50.9).
# Everything else is CCT's: unsupervised weight 30, weak-label weight 0.4 on the auxiliary decoders.
_base_ = [
    '../_base_/models/cct_r18-w16.py', '../_base_/datasets/embedded_semi.py', '../_base_/default_runtime.py',
    '../_base_/schedules/cct_poly_600it.py'
]
model = dict(
    backbone=dict(init_cfg=dict(checkpoint='work_dirs/cam_r18-w16_30ep_embedded/epoch_30.pth')),
    decode_head=dict(num_classes=5, relu=False),
    rampup_ratio=1.0,
    test_cfg=dict(crf={{_base_.embedded_segmentation_crf}}))
# tools/test.py --tta: CCT's multi-scale inference (logits averaged), then (when enabled) the dense CRF once.
tta_model = dict(type='SegTTAModelWithCRF', view_average='logits')
randomness = dict(seed=0)
