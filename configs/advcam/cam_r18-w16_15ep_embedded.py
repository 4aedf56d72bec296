# The CAM classifier on the embedded dataset: the VOC recipe (cam_r50_5ep_voc12aug.py) on the narrow
# ResNet-18 trained from scratch, so that AdvCAM runs in minutes on 2 CPU cores.
#   python tools/make_embedded_dataset.py && python tools/train.py configs/advcam/cam_r18-w16_15ep_embedded.py
_base_ = [
    '../_base_/models/cam_r18-w16.py', '../_base_/datasets/embedded_cls.py', '../_base_/label_generation.py',
    '../_base_/default_runtime.py', '../_base_/schedules/cls_sgdm_poly_15ep.py'
]
model = dict(num_classes=4)
label_generation = dict(scales=(1.0, 0.5, 1.5))
