# IRNet training data on MS COCO 2014: VOC's IRN recipe (voc12aug_ir_labels.py: rescale in [0.5, 1.5], flip,
# random 512 crop) on train2014 with its inter-pixel relation labels as masks (ReCAM's
# step_coco/train_irn.py trains IRNet on COCO with the same augmentation).
# The IR-label folder, absolute: <repo>/work_dirs/ir_labels/coco14.
_base_ = ['./voc12aug_ir_labels.py', './coco14.py']
dataset_type = 'COCOSegmentationDataset'
data_root = {{_base_.coco_data_root}}
label_evaluation = {{_base_.coco_label_evaluation}}
ir_label_dir = '{{ fileDirname }}/../../../work_dirs/ir_labels/coco14'
train_dataloader = dict(
    dataset=dict(_delete_=True, type=dataset_type, data_root=data_root, split='train2014',
                 mask_dir=ir_label_dir, pipeline={{_base_.train_pipeline}}))
