# IRNet on the embedded dataset: the VOC recipe (irnet_r50_3ep_voc12aug.py) on the narrow ResNet-18 of
# the embedded classifier, whose trained backbone it freezes as IRN freezes its ImageNet ResNet-50. The
# settings that follow from the image size and the run's length, by the rules written beside them:
#   pairs closer than 3 cells (IRN: 10), crop 160 (IRN: 512), a walk of 2^4 steps (IRN: 2^8 on VOC's
#   ~108-cell grid; here the grid has 32 cells), IRN's CRF lengths scaled: ../_base_/embedded_scale.py;
#   IRN's optimizer for half IRN's crops (4,000 steps of 4): ../_base_/schedules/irnet_poly_100ep.py.
# Everything else is IRN's / AdvCAM's: IR labels 0.35 / 0.15, beta 10, background 0.25, cam power 1.5.
#   python tools/cams_to_ir_labels.py configs/advcam/irnet_r18-w16_100ep_embedded.py --cam-dir <maps>
#   python tools/train.py configs/advcam/irnet_r18-w16_100ep_embedded.py
_base_ = [
    '../_base_/models/irnet_r18-w16.py', '../_base_/datasets/embedded_ir_labels.py',
    '../_base_/label_generation.py', '../_base_/default_runtime.py', '../_base_/schedules/irnet_poly_100ep.py'
]
model = dict(backbone=dict(init_cfg=dict(checkpoint='work_dirs/cam_r18-w16_30ep_embedded/epoch_30.pth')))
random_walk = {{_base_.embedded_random_walk}}
seed_crf = {{_base_.embedded_seed_crf}}
randomness = dict(seed=0)
