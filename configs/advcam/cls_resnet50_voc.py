# Step 1 of AdvCAM: IRN's multi-label CAM classifier on VOC 2012 train_aug image labels
# (ResNet-50, OS 16, batch 16, 5 epochs, SGD poly, lr 0.1 / 10x head). The AdvCAM settings
# used to attribute it (label_generation) live with the model in _base_/models.
_base_ = [
    '../_base_/models/cam_resnet50.py', '../_base_/datasets/voc_cls.py',
    '../_base_/default_runtime.py', '../_base_/schedules/cls_poly_5ep.py'
]
