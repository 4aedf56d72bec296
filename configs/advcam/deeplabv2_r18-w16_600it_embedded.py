# DeepLab-v2 on the embedded dataset: the VOC recipe (deeplabv2_r101_20k_voc12aug.py) with the narrow
# ResNet-18 of the embedded classifier (its trained backbone as the start), 96x96 crops, 600 iterations
# (about a minute on 2 CPU cores). The pseudo-label hook (_base_/hooks/pseudo_label_embedded.py) makes
# the masks from the classifier's maps and the IRNet first; tools/pipeline.py runs it all.
_base_ = [
    '../_base_/models/deeplabv2_r18-w16.py', '../_base_/datasets/embedded_pseudo_masks.py',
    '../_base_/hooks/pseudo_label_embedded.py', '../_base_/default_runtime.py',
    '../_base_/schedules/deeplabv2_poly_600it.py'
]
model = dict(
    backbone=dict(init_cfg=dict(checkpoint='work_dirs/cam_r18-w16_15ep_embedded/epoch_15.pth')),
    decode_head=dict(num_classes=5))
tta_model = dict(type='SegTTAModelWithCRF')
default_hooks = dict(visualization=dict(type='SegVisualizationHook'))
