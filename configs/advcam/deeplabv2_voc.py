# Step 4 of AdvCAM: DeepLab-v2 (ResNet-101, ASPP-v2) trained on AdvCAM + IRN pseudo masks of
# VOC 2012 train_aug, evaluated on val (paper, Table 4: 68.1 val / 68.0 test mIoU with an
# ImageNet-pretrained ResNet-101; multi-scale + flip + CRF testing).
#   python tools/train.py configs/advcam/deeplabv2_voc.py
#   bash tools/dist_train.sh configs/advcam/deeplabv2_voc.py 8        (batch_size=10 is per GPU)
#   python tools/test.py configs/advcam/deeplabv2_voc.py CKPT --tta --cfg-options model.test_cfg.crf.enabled=True
# The AdvCAMPseudoLabelHook fills train_dataloader.dataset.mask_dir before the first iteration
# (AdvCAM maps of the classifier below -> IRN random walk with the IRNet below), reuses a finished
# folder and refuses one made with other settings (regenerate=True replaces it). To make the
# labels on N GPUs ahead of training (no collective timeout during long generation):
#   torchrun --nproc_per_node N tools/make_pseudo_labels.py configs/advcam/deeplabv2_voc.py --launcher pytorch
# Paths (override with --cfg-options custom_hooks.0.classifier_checkpoint=... etc.):
classifier_config = '{{ fileDirname }}/cls_resnet50_voc.py'
classifier_checkpoint = 'work_dirs/cls_resnet50_voc/epoch_5.pth'
irn_config = '{{ fileDirname }}/irn_resnet50_voc.py'
irn_checkpoint = 'work_dirs/irn_resnet50_voc/epoch_3.pth'
# AdvCAM maps of train_aug (the ones IRNet's IR labels were made from, e.g. by
# tools/make_cams.py --split train_aug --out-dir work_dirs/advcam_maps/voc_train_aug): reused.
advcam_maps_dir = 'work_dirs/advcam_maps/voc_train_aug'

_base_ = [
    '../_base_/models/deeplabv2_r101.py', '../_base_/datasets/voc_pseudo_seg.py',
    '../_base_/default_runtime.py', '../_base_/schedules/deeplabv2_poly_20k.py'
]
# tools/test.py --tta: mean of the views' softmax, then (when enabled) the dense CRF once.
tta_model = dict(type='SegTTAModelWithCRF')
custom_hooks = [
    dict(type='AdvCAMPseudoLabelHook',
         classifier_config=classifier_config,
         classifier_checkpoint=classifier_checkpoint,
         method='advcam',  # parameters: the classifier config's label_generation (27 steps, ...)
         refiner=dict(type='irn', config=irn_config, checkpoint=irn_checkpoint),
         maps_dir=advcam_maps_dir)
]
