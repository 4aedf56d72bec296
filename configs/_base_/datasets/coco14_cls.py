# MS COCO 2014 multi-label classification in the layout of tools/convert_coco.py: VOC's classifier
# pipelines and loaders (voc12aug_cls.py: IRN's long side in [320, 640], flip, random 512 crop) on the
# train2014 images that have a label (82,081), validated on val2014 (40,137).
_base_ = ['./voc12aug_cls.py', './coco14.py']
dataset_type = 'COCOClassificationDataset'
data_root = {{_base_.coco_data_root}}
label_evaluation = {{_base_.coco_label_evaluation}}
train_dataloader = dict(
    dataset=dict(_delete_=True, type=dataset_type, data_root=data_root, split='train2014',
                 pipeline={{_base_.train_pipeline}}))
val_dataloader = dict(
    dataset=dict(_delete_=True, type=dataset_type, data_root=data_root, split='val2014',
                 pipeline={{_base_.val_pipeline}}))
test_dataloader = val_dataloader
