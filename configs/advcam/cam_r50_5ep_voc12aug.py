# Step 1 of AdvCAM: IRN's multi-label CAM classifier on VOC 2012 train_aug image labels (ResNet-50,
# OS 16, batch 16, 5 epochs, SGD poly, lr 0.1 / 10x head), and how its class maps are drawn
# (label_generation: AdvCAM, 27 steps, ...).
#   python tools/train.py configs/advcam/cam_r50_5ep_voc12aug.py
#   python tools/make_cams.py configs/advcam/cam_r50_5ep_voc12aug.py work_dirs/cam_r50_5ep_voc12aug \
#       --split train_aug --out-dir work_dirs/advcam_maps/voc12aug_train_aug
#   python tools/eval_seeds.py configs/advcam/cam_r50_5ep_voc12aug.py \
#       --cam-dir work_dirs/advcam_maps/voc12aug_train_aug --crf
_base_ = [
    '../_base_/models/cam_r50.py', '../_base_/datasets/voc12aug_cls.py', '../_base_/label_generation.py',
    '../_base_/default_runtime.py', '../_base_/schedules/cls_poly_5ep.py'
]
