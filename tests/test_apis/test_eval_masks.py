"""Mask evaluation (the paper's "Mask" column) on hand-made PNGs with a known answer."""
import json
import os
import runpy
import sys

import numpy as np
import pytest
from PIL import Image

from advcam_mm.apis.eval_masks import evaluate_masks
from advcam_mm.fileio.label_png import save_label_png

CLASSES = ['background', 'cat', 'dog']
TOOL = os.path.join(os.path.dirname(__file__), '..', '..', 'tools', 'eval_masks.py')
# image a: cat in columns 0-1, the mask spills into column 2; one ignored ground-truth pixel
GT_A = np.array([[1, 1, 0, 0]] * 3 + [[1, 1, 0, 255]])
MASK_A = np.array([[1, 1, 1, 0]] * 4)
# image b: dog in rows 0-1, the mask finds row 0 only
GT_B = np.array([[2] * 4, [2] * 4, [0] * 4, [0] * 4])
MASK_B = np.array([[2] * 4, [0] * 4, [0] * 4, [0] * 4])
# By hand (the ignored pixel left out): background TP 3 + 8, FP 4 (b's row 1), FN 4 (a's column 2)
#   -> 11 / 19; cat TP 8, FP 4 -> 8 / 12; dog TP 4, FN 4 -> 4 / 8.
IOU = [11 / 19, 8 / 12, 4 / 8]


def write(tmp_path, masks=(('a', GT_A, MASK_A), ('b', GT_B, MASK_B))):
    root, mask_dir = tmp_path / 'VOC2012', tmp_path / 'masks'
    (root / 'ImageSets' / 'Segmentation').mkdir(parents=True, exist_ok=True)
    (root / 'SegmentationClass').mkdir(exist_ok=True)
    for image_id, gt, mask in masks:
        Image.fromarray(gt.astype(np.uint8)).save(root / 'SegmentationClass' / f'{image_id}.png')
        save_label_png(str(mask_dir / f'{image_id}.png'), mask)
    (root / 'ImageSets' / 'Segmentation' / 'train.txt').write_text(''.join(f'{m[0]}\n' for m in masks))
    return str(mask_dir), str(root)


def test_known_answer_in_process_and_in_workers(tmp_path):
    mask_dir, root = write(tmp_path)
    result = evaluate_masks(mask_dir, root, num_workers=0, class_names=CLASSES, progress=False)
    np.testing.assert_allclose(result['iou'], IOU)
    assert result['miou'] == pytest.approx(np.mean(IOU)) and result['num_images'] == 2
    in_workers = evaluate_masks(mask_dir, root, num_workers=2, class_names=CLASSES, progress=True)
    assert in_workers['iou'] == result['iou']
    # without names the classes are counted from the data
    counted = evaluate_masks(mask_dir, root, num_workers=0, progress=False)
    assert counted['class_names'] == ['background', 'class_1', 'class_2']
    assert counted['miou'] == pytest.approx(np.mean(IOU))


def test_errors_name_the_file(tmp_path):
    mask_dir, root = write(tmp_path)
    os.remove(os.path.join(mask_dir, 'b.png'))
    with pytest.raises(FileNotFoundError, match='b.png.*make_sem_seg_labels'):
        evaluate_masks(mask_dir, root, progress=False)
    mask_dir, root = write(tmp_path / 'small', masks=(('a', GT_A, MASK_A), ('c', GT_A, np.zeros((2, 2), int))))
    with pytest.raises(ValueError, match=r'c.png: mask of size \(2, 2\)'):
        evaluate_masks(mask_dir, root, num_workers=2, progress=False)
    mask_dir, root = write(tmp_path / 'ignore', masks=(('a', GT_A, np.where(MASK_A == 1, 255, 0)),))
    with pytest.raises(ValueError, match='a.png: mask value 255 outside the 3 classes'):
        evaluate_masks(mask_dir, root, num_workers=0, class_names=CLASSES, progress=False)


def test_tool_prints_table_and_writes_json(tmp_path, monkeypatch, capsys):
    mask_dir, root = write(tmp_path)
    out_json = tmp_path / 'masks.json'
    monkeypatch.setattr(sys, 'argv', ['eval_masks.py', '--mask-dir', mask_dir, '--data-root', root,
                                      '--num-workers', '0', '--out-json', str(out_json)])
    runpy.run_path(TOOL, run_name='__main__')
    printed = capsys.readouterr().out
    assert f'mask mIoU: {100 * np.mean(IOU):.2f}' in printed and 'aeroplane' in printed
    saved = json.loads(out_json.read_text())
    assert len(saved['class_names']) == 21 and saved['iou'][3] is None  # VOC names; absent classes
    assert saved['miou'] == pytest.approx(np.mean(IOU))
