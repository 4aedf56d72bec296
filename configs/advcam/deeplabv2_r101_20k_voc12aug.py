# Step 4 of AdvCAM: DeepLab-v2 (ResNet-101, ASPP-v2) trained on the AdvCAM + IRN pseudo masks of VOC 2012
# train_aug, evaluated on val (paper, Table 4: 68.1 val / 68.0 test mIoU with an ImageNet ResNet-101;
# multi-scale + flip + CRF testing).
#   python tools/train.py configs/advcam/deeplabv2_r101_20k_voc12aug.py
#   bash tools/dist_train.sh configs/advcam/deeplabv2_r101_20k_voc12aug.py 8     (batch_size=10 is per GPU)
#   python tools/test.py CONFIG CKPT --tta --cfg-options model.test_cfg.crf.enabled=True
# The pseudo-label hook (_base_/hooks/pseudo_label_voc12aug.py) fills train_dataloader.dataset.mask_dir
# before the first iteration.
_base_ = [
    '../_base_/models/deeplabv2_r101.py', '../_base_/datasets/voc12aug_pseudo_masks.py',
    '../_base_/hooks/pseudo_label_voc12aug.py', '../_base_/default_runtime.py',
    '../_base_/schedules/deeplabv2_poly_20k.py'
]
# tools/test.py --tta: mean of the views' softmax, then (when enabled) the dense CRF once.
tta_model = dict(type='SegTTAModelWithCRF')
