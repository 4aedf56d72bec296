"""Hand-made VOC-layout data for known-answer tests of the stages: images, ground truth, class maps, configs."""
import os
import os.path as osp

import numpy as np
from PIL import Image

from advcam_mm.fileio.cam_files import save_cam_file
from advcam_mm.fileio.manifest import make_manifest, write_manifest

CLASSES = ('background', 'cat', 'dog')
PALETTE = [[0, 0, 0], [128, 0, 0], [0, 128, 0]]
#: A distinct colour per ground-truth value, so that a dense CRF can follow the objects.
COLOURS = {0: (40, 120, 40), 1: (230, 200, 60), 2: (60, 70, 220), 255: (40, 120, 40)}


def upscale(array, cell):
    """Each entry of a small hand-made layout becomes a ``cell x cell`` block (every count x cell^2)."""
    return np.kron(np.asarray(array), np.ones((cell, cell), dtype=np.asarray(array).dtype))


def write_voc(root, ground_truth: dict, splits: dict, mask_dir='SegmentationClass'):
    """``root/JPEGImages/<id>.jpg`` coloured by class, ``root/<mask_dir>/<id>.png`` and the split lists."""
    for folder in ('ImageSets/Segmentation', mask_dir, 'JPEGImages'):
        os.makedirs(osp.join(root, folder), exist_ok=True)
    for image_id, gt in ground_truth.items():
        gt = np.asarray(gt).astype(np.uint8)
        Image.fromarray(gt).save(osp.join(root, mask_dir, f'{image_id}.png'))
        rgb = np.array([COLOURS[int(v)] for v in gt.ravel()], np.uint8).reshape(gt.shape + (3,))
        Image.fromarray(rgb).save(osp.join(root, 'JPEGImages', f'{image_id}.jpg'), quality=100, subsampling=0)
    for name, ids in splits.items():
        with open(osp.join(root, 'ImageSets', 'Segmentation', f'{name}.txt'), 'w') as f:
            f.write(''.join(f'{i}\n' for i in ids))
    return str(root)


def write_maps(folder, maps: dict, stage_settings=None):
    """``<folder>/<id>.npy`` from ``{id: (keys, high_res (C, H, W))}`` and, unless ``stage_settings`` is
    False, a complete ``class_maps`` manifest (as the class-map stage leaves it)."""
    for image_id, (keys, high_res) in maps.items():
        high_res = np.asarray(high_res, np.float32)
        save_cam_file(osp.join(folder, f'{image_id}.npy'), np.asarray(keys), high_res[:, ::4, ::4], high_res)
    if stage_settings is not False:
        mark_complete(folder, 'class_maps', stage_settings or dict(hand_made=True))
    return str(folder)


def mark_complete(folder, stage, settings):
    """A complete manifest of ``stage`` in ``folder``: what a finished earlier stage leaves behind."""
    write_manifest(str(folder), make_manifest(stage, settings, {}, 'complete'))


def evaluation_config(path, data_root, classes=CLASSES, palette=PALETTE, split='train'):
    """The smallest config the evaluation stages read: ``label_evaluation`` and the validation dataset."""
    with open(path, 'w') as f:
        f.write(f"""custom_imports = dict(imports=['advcam_mm'], allow_failed_imports=False)
default_scope = 'mmseg'
label_evaluation = dict(split='{split}', mask_dir='SegmentationClass')
seed_crf = dict(t=10, gt_prob=0.7, gaussian_sxy=3, gaussian_compat=3, bilateral_sxy=50, bilateral_srgb=5,
                bilateral_compat=10)
val_dataloader = dict(dataset=dict(type='VOCSegmentationDataset', data_root='{data_root}',
                                   ann_file='ImageSets/Segmentation/val.txt', mask_dir='SegmentationClass',
                                   metainfo=dict(classes={tuple(classes)!r}, palette={list(palette)!r})))
""")
    return str(path)
