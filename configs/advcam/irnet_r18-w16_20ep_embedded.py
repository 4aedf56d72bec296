# IRNet on the embedded dataset: the VOC recipe (irnet_r50_3ep_voc12aug.py) on the narrow ResNet-18 of
# the embedded classifier, whose trained backbone it freezes as IRN freezes its ImageNet ResNet-50.
#   python tools/cams_to_ir_labels.py configs/advcam/irnet_r18-w16_20ep_embedded.py --cam-dir <maps>
#   python tools/train.py configs/advcam/irnet_r18-w16_20ep_embedded.py
_base_ = [
    '../_base_/models/irnet_r18-w16.py', '../_base_/datasets/embedded_ir_labels.py',
    '../_base_/label_generation.py', '../_base_/default_runtime.py', '../_base_/schedules/irnet_sgdm_poly_20ep.py'
]
model = dict(backbone=dict(init_cfg=dict(checkpoint='work_dirs/cam_r18-w16_15ep_embedded/epoch_15.pth')))
