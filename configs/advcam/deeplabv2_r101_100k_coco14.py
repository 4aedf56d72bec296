# Step 4 of AdvCAM on MS COCO 2014: DeepLab-v2 (ResNet-101, ASPP-v2, 81 classes) trained on AdvCAM +
# IRN pseudo masks of train2014 for 100k iterations (kazuto1011/deeplab-pytorch cocostuff164k
# schedule), evaluated on val2014. Expected range (val mIoU, DeepLab-v2 on pseudo masks, as the
# peers report it): ReCAM 45.0, CLIP-ES 45.4, MCTformer 42.0, ToCo 41.3 (their ground truth treats
# crowds differently; see advcam_mm/datasets/coco_annotations.py).
#   bash tools/dist_train.sh configs/advcam/deeplabv2_r101_100k_coco14.py 8     (batch_size=10 is per GPU)
#   python tools/test.py configs/advcam/deeplabv2_r101_100k_coco14.py CKPT --tta \
#       --cfg-options model.test_cfg.crf.enabled=True
# The AdvCAMPseudoLabelHook makes the masks before the first iteration, as on VOC:
classifier_config = '{{ fileDirname }}/cam_r50_5ep_coco14.py'
classifier_checkpoint = 'work_dirs/cam_r50_5ep_coco14/epoch_5.pth'
irn_config = '{{ fileDirname }}/irn_r50_3ep_coco14.py'
irn_checkpoint = 'work_dirs/irn_r50_3ep_coco14/epoch_3.pth'
advcam_maps_dir = 'work_dirs/advcam_maps/coco14_train2014'

_base_ = [
    '../_base_/models/deeplabv2_r101.py', '../_base_/datasets/coco14_pseudo_seg.py',
    '../_base_/default_runtime.py', '../_base_/schedules/deeplabv2_poly_100k.py'
]
model = dict(decode_head=dict(num_classes=81))
tta_model = dict(type='SegTTAModelWithCRF')
custom_hooks = [
    dict(type='AdvCAMPseudoLabelHook',
         classifier_config=classifier_config,
         classifier_checkpoint=classifier_checkpoint,
         method='advcam',
         refiner=dict(type='irn', config=irn_config, checkpoint=irn_checkpoint),
         maps_dir=advcam_maps_dir)
]
