# Step 3 of AdvCAM: IRN's IRNet trained on the IR labels of VOC 2012 train_aug made from AdvCAM maps
# (frozen ResNet-50, crop 512, batch 32, 3 epochs, SGD poly, lr 0.1 / 10x displacement), and the
# IR-label and random-walk settings (_base_/label_generation.py).
#   python tools/cams_to_ir_labels.py configs/advcam/irnet_r50_3ep_voc12aug.py \
#       --cam-dir work_dirs/advcam_maps/voc12aug_train_aug
#   python tools/train.py configs/advcam/irnet_r50_3ep_voc12aug.py
# The pseudo masks are then made by the segmentor config's hook (configs/_base_/hooks/).
_base_ = [
    '../_base_/models/irnet_r50.py', '../_base_/datasets/voc12aug_ir_labels.py',
    '../_base_/label_generation.py', '../_base_/default_runtime.py', '../_base_/schedules/irnet_poly_3ep.py'
]
