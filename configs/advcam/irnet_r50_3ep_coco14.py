# Step 3 of AdvCAM on MS COCO 2014: IRN's IRNet on train2014 IR labels made from AdvCAM maps, as
# ReCAM trains it on COCO (step_coco/train_irn.py: frozen ResNet-50, crop 512, batch 32, 3 epochs,
# SGD poly, lr 0.1 / 10x displacement; VOC's recipe). ReCAM's COCO label settings
# (run_sample_coco.py): IR labels from confident foreground / background at background scores
# 0.35 / 0.10, random walk beta 10, 2^8 steps, background 0.25.
#   python tools/cams_to_ir_labels.py configs/advcam/irnet_r50_3ep_coco14.py --cam-dir <maps>
#   python tools/train.py configs/advcam/irnet_r50_3ep_coco14.py
_base_ = [
    '../_base_/models/irnet_r50.py', '../_base_/datasets/coco14_ir_labels.py',
    '../_base_/label_generation.py', '../_base_/default_runtime.py', '../_base_/schedules/irnet_poly_3ep.py'
]
ir_labels = dict(conf_fg_thres=0.35, conf_bg_thres=0.10)
