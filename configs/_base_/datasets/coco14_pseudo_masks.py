# MS COCO 2014 semantic segmentation trained on pseudo labels: train2014 images whose masks are read
# from `pseudo_label_dir` (filled by AdvCAMPseudoLabelHook before the first iteration, as on VOC),
# validated on val2014 against the converted ground truth (SegmentationClass/val2014; 81 labels,
# 255 = crowd/ambiguous overlap, see advcam_mm/datasets/coco_annotations.py). VOC's DeepLab-v2
# pipelines (voc12aug_pseudo_masks.py: rescale [0.5, 1.5], 321 crop, flip; MS + flip testing with --tta).
_base_ = ['./voc12aug_pseudo_masks.py', './coco14.py']
dataset_type = 'COCOSegmentationDataset'
data_root = {{_base_.coco_data_root}}
label_evaluation = {{_base_.coco_label_evaluation}}
# Absolute (a relative mask_dir is joined to data_root): <repo>/work_dirs/pseudo_masks/coco14
pseudo_label_dir = '{{ fileDirname }}/../../../work_dirs/pseudo_masks/coco14'
train_dataloader = dict(
    dataset=dict(_delete_=True, type=dataset_type, data_root=data_root, split='train2014',
                 mask_dir=pseudo_label_dir,
                 check_files=False,  # the masks appear only when the hook has run
                 pipeline={{_base_.train_pipeline}}))
val_dataloader = dict(
    dataset=dict(_delete_=True, type=dataset_type, data_root=data_root, split='val2014',
                 pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader
