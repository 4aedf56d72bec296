# Step 1 of AdvCAM on MS COCO 2014: IRN's CAM classifier (ResNet-50 OS 16, GAP, bias-free 1x1
# conv) on the train2014 image labels, with the IRN-style recipe ReCAM uses on COCO
# (zhaozhengChen/ReCAM run_sample_coco.py, step_coco/train_cam.py): long side in [320, 640], flip,
# random 512 crop, batch 16, 5 epochs, SGD poly, lr 0.1 (10x head), weight decay 1e-4. That is
# VOC's recipe, so only the classes and the data change. The AdvCAM settings (label_generation) are
# VOC's (the authors' COCO code is unpublished, jbeomlee93/AdvCAM #21); on COCO's 82k images the
# class-map files take 154 GB in float16: storage='strided' keeps them at 9 GB (docs/coco2014.md).
#   python tools/convert_coco.py --data-root data/coco2014
#   bash tools/dist_train.sh configs/advcam/cam_r50_5ep_coco14.py 8     (batch_size=16 is per GPU:
#       use 2 per GPU with 8 GPUs for ReCAM's 16)
_base_ = [
    '../_base_/models/cam_r50.py', '../_base_/datasets/coco14_cls.py', '../_base_/label_generation.py',
    '../_base_/default_runtime.py', '../_base_/schedules/cls_poly_5ep.py'
]
model = dict(num_classes=80)
label_generation = dict(storage='strided')
train_cfg = dict(val_interval=5)  # val2014 has 40,137 images: validate once, after the last epoch
