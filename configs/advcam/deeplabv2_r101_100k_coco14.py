# Step 4 of AdvCAM on MS COCO 2014: DeepLab-v2 (ResNet-101, ASPP-v2, 81 classes) trained on AdvCAM +
# IRN pseudo masks of train2014 for 100k iterations (kazuto1011/deeplab-pytorch cocostuff164k
# schedule), evaluated on val2014. Expected range (val mIoU, DeepLab-v2 on pseudo masks, as the
# peers report it): ReCAM 45.0, CLIP-ES 45.4, MCTformer 42.0, ToCo 41.3 (their ground truth treats
# crowds differently; see advcam_mm/datasets/coco_annotations.py).
#   bash tools/dist_train.sh configs/advcam/deeplabv2_r101_100k_coco14.py 8     (batch_size=10 is per GPU)
#   python tools/test.py configs/advcam/deeplabv2_r101_100k_coco14.py CKPT --tta \
#       --cfg-options model.test_cfg.crf.enabled=True
# (the CRF runs over background and the classes whose probability reaches test_cfg.crf.class_floor,
# default 1e-3, somewhere in the image: 208 MiB instead of 2.3 GB per 640x640 image, docs/coco2014.md)
# The pseudo-label hook (_base_/hooks/pseudo_label_coco14.py) makes the masks before the first iteration.
_base_ = [
    '../_base_/models/deeplabv2_r101.py', '../_base_/datasets/coco14_pseudo_masks.py',
    '../_base_/hooks/pseudo_label_coco14.py', '../_base_/default_runtime.py',
    '../_base_/schedules/deeplabv2_poly_100k.py'
]
model = dict(decode_head=dict(num_classes=81, loss_decode=dict(avg_non_ignore=True)))
tta_model = dict(type='SegTTAModelWithCRF')
