"""MS COCO 2014 as the weakly supervised segmentation papers use it: 80 classes, layout, names.

The 80 "thing" categories keep COCO's order (sorted category id, as in
``instances_train2014.json``); mask value ``k`` (1..80) is the ``k``-th of them
and 0 is background, the 81 labels of ReCAM's ``mscoco/annToMask.py``
``category_map`` (ids 1..90 with gaps -> 1..80). Sample ids are COCO's file
names without extension (``COCO_train2014_000000000009``), the ids of the
MCTformer / CLIP-ES split lists and class-label files, so their files can be
brought along.

The layout written by the conversion stage (:mod:`advcam_mm.stages.coco_conversion`,
``tools/convert_coco.py``) and read by the COCO datasets (``data_root`` = the COCO folder)::

    train2014/<id>.jpg, val2014/<id>.jpg                 images (COCO's download)
    annotations/instances_{train,val}2014.json           instance annotations (COCO's download)
    SegmentationClass/{train2014,val2014}/<id>.png       semantic masks: 0..80, 255 = ignore (written)
    SegmentationClass/{train2014,val2014}/stage_manifest.json   what made them (written; the split's identity)
    ImageSets/{train2014,val2014}.txt                    ids of the images with a label (written)
    cls_labels_coco.npy                                  id -> 80-dim multi-hot, both splits (written)
"""
import os.path as osp

# (category id, name) of the 80 COCO categories in COCO's order.
COCO_CATEGORIES = (
    (1, 'person'), (2, 'bicycle'), (3, 'car'), (4, 'motorcycle'), (5, 'airplane'), (6, 'bus'),
    (7, 'train'), (8, 'truck'), (9, 'boat'), (10, 'traffic light'), (11, 'fire hydrant'),
    (13, 'stop sign'), (14, 'parking meter'), (15, 'bench'), (16, 'bird'), (17, 'cat'), (18, 'dog'),
    (19, 'horse'), (20, 'sheep'), (21, 'cow'), (22, 'elephant'), (23, 'bear'), (24, 'zebra'),
    (25, 'giraffe'), (27, 'backpack'), (28, 'umbrella'), (31, 'handbag'), (32, 'tie'), (33, 'suitcase'),
    (34, 'frisbee'), (35, 'skis'), (36, 'snowboard'), (37, 'sports ball'), (38, 'kite'),
    (39, 'baseball bat'), (40, 'baseball glove'), (41, 'skateboard'), (42, 'surfboard'),
    (43, 'tennis racket'), (44, 'bottle'), (46, 'wine glass'), (47, 'cup'), (48, 'fork'), (49, 'knife'),
    (50, 'spoon'), (51, 'bowl'), (52, 'banana'), (53, 'apple'), (54, 'sandwich'), (55, 'orange'),
    (56, 'broccoli'), (57, 'carrot'), (58, 'hot dog'), (59, 'pizza'), (60, 'donut'), (61, 'cake'),
    (62, 'chair'), (63, 'couch'), (64, 'potted plant'), (65, 'bed'), (67, 'dining table'), (70, 'toilet'),
    (72, 'tv'), (73, 'laptop'), (74, 'mouse'), (75, 'remote'), (76, 'keyboard'), (77, 'cell phone'),
    (78, 'microwave'), (79, 'oven'), (80, 'toaster'), (81, 'sink'), (82, 'refrigerator'), (84, 'book'),
    (85, 'clock'), (86, 'vase'), (87, 'scissors'), (88, 'teddy bear'), (89, 'hair drier'),
    (90, 'toothbrush'))

COCO_CLASSES = ('background', ) + tuple(name for _, name in COCO_CATEGORIES)

IGNORE_INDEX = 255
SPLITS = ('train2014', 'val2014')
CLS_LABELS_FILE = 'cls_labels_coco.npy'


def coco_palette():
    """VOC's colour map extended to the 81 labels (the colours the converted PNGs carry)."""
    from .voc_base import voc_palette
    return voc_palette(len(COCO_CLASSES))


def annotation_file(split):
    """``annotations/instances_<split>.json`` (relative to the COCO folder)."""
    return osp.join('annotations', f'instances_{split}.json')


def split_list_file(split):
    """``ImageSets/<split>.txt``: the ids of the split's images that have at least one label."""
    return osp.join('ImageSets', f'{split}.txt')


def mask_folder(split):
    """``SegmentationClass/<split>``: the split's semantic masks."""
    return osp.join('SegmentationClass', split)
