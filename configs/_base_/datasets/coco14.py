# MS COCO 2014 in the layout of tools/convert_coco.py (advcam_mm/datasets/coco_metainfo.py): where it
# lives and where the pixel labels that seeds and pseudo masks are scored on are (train2014, as the
# WSSS papers score them), under names distinct from data_root/label_evaluation so that this file can
# sit beside the VOC dataset base it changes.
coco_data_root = 'data/coco2014'
coco_label_evaluation = dict(split='train2014', mask_dir='SegmentationClass/train2014')
