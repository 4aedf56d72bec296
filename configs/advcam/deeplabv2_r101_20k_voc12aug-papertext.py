# DeepLab-v2 as AdvCAM's text describes it (ResNet-101 from ImageNet weights, ASPP-v2) with DeepLab-v2's
# own VOC defaults: 20k iterations of batch 10, SGD lr 2.5e-4 (10x head), random rescale in [0.5, 1.5],
# 321x321 crops, plain cross-entropy averaged over the labelled pixels; trained on the AdvCAM + IRN
# pseudo masks of VOC 2012 train_aug, evaluated on val. The paper's numbers (68.1 val / 68.0 test) were
# made with the author's changes to this recipe (jbeomlee93/AdvCAM #9): deeplabv2_r101_30k_voc12aug.py,
# the default (deeplabv2_voc.py).
#   python tools/train.py configs/advcam/deeplabv2_r101_20k_voc12aug-papertext.py
#   python tools/test.py configs/advcam/deeplabv2_r101_20k_voc12aug-papertext.py \
#       work_dirs/deeplabv2_r101_20k_voc12aug-papertext --tta --cfg-options model.test_cfg.crf.enabled=True
# The pseudo-label hook (_base_/hooks/pseudo_label_voc12aug.py) fills train_dataloader.dataset.mask_dir
# before the first iteration.
_base_ = [
    '../_base_/models/deeplabv2_r101.py', '../_base_/datasets/voc12aug_pseudo_masks.py',
    '../_base_/hooks/pseudo_label_voc12aug.py', '../_base_/default_runtime.py',
    '../_base_/schedules/deeplabv2_poly_20k.py'
]
# DeepLab (caffe SoftmaxWithLoss; deeplab-pytorch's nn.CrossEntropyLoss) averages over the
# labelled pixels only; mmseg's default would also count the ignored padding of small crops.
model = dict(decode_head=dict(loss_decode=dict(avg_non_ignore=True)))
# tools/test.py --tta: mean of the views' softmax, then (when enabled) the dense CRF once.
tta_model = dict(type='SegTTAModelWithCRF')
