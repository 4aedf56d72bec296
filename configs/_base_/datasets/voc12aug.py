# PASCAL VOC 2012 with the SBD augmentation (train_aug: 10,582 images; train: 1,464; val: 1,449):
# where it lives and where the pixel labels that seeds and pseudo masks are scored on are (the paper
# scores them on train, against SegmentationClass). Every VOC dataset base reads these two.
data_root = 'data/VOCdevkit/VOC2012'
label_evaluation = dict(split='train', mask_dir='SegmentationClass')
