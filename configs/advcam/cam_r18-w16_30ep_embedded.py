# The CAM classifier on the embedded dataset: the VOC recipe (cam_r50_5ep_voc12aug.py) on the narrow
# ResNet-18 trained from scratch (no ImageNet weights exist for it; schedule and its reason:
# ../_base_/schedules/cls_sgdm_poly_30ep.py), so that AdvCAM runs in minutes on 2 CPU cores.
#   python tools/make_embedded_dataset.py && python tools/train.py configs/advcam/cam_r18-w16_30ep_embedded.py
# label_generation: AdvCAM's settings (27 steps of 0.08, tau 0.5, lambda 7) with the scales (1.0, 0.5, 1.5):
# the authors' 2.0 alone would cost more than the other three together (4 / 3.5 of their pixels).
# seed_crf: IRN's CRF with its lengths scaled to the image size (../_base_/embedded_scale.py).
_base_ = [
    '../_base_/models/cam_r18-w16.py', '../_base_/datasets/embedded_cls.py', '../_base_/label_generation.py',
    '../_base_/default_runtime.py', '../_base_/schedules/cls_sgdm_poly_30ep.py'
]
model = dict(num_classes=4)
label_generation = dict(scales=(1.0, 0.5, 1.5))
seed_crf = {{_base_.embedded_seed_crf}}
# One fixed training seed, so that a run of the demo is reproducible (chosen once, never searched).
randomness = dict(seed=0)
