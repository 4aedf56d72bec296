import json
import os
import runpy
import sys

import numpy as np
import pytest
from PIL import Image

from advcam_mm.apis.eval_seeds import evaluate_seeds, parse_thresholds
from advcam_mm.fileio import save_cam_file

CLASSES = ['background', 'cat', 'dog']
CELL = 4  # each hand-made 4x4 layout is upscaled by 4: every count x16, every IoU the same
TOOL = os.path.join(os.path.dirname(__file__), '..', '..', 'tools', 'eval_seeds.py')

# image a: 'cat' (class 1, key 0) in columns 0-1; the map reaches 0.3 in column 2
GT_A = np.array([[1, 1, 0, 0]] * 3 + [[1, 1, 0, 255]])
MAP_A = np.array([[0.8, 0.8, 0.3, 0.1]] * 4)
# image b: 'dog' (class 2, key 1) in rows 0-1; the map is only 0.4 on row 1
GT_B = np.array([[2] * 4, [2] * 4, [0] * 4, [0] * 4])
MAP_B = np.array([[0.9] * 4, [0.4] * 4, [0.0] * 4, [0.0] * 4])
# By hand (per 4x4 layout; the ignored pixel is left out):
# threshold 0.2: a predicts cat on columns 0-2 (4 background pixels wrong), b is right.
#   background TP 3 + 8 = 11, FN 4 -> 11/15; cat TP 8, FP 4 -> 8/12; dog 8/8.
MIOU_02 = (11 / 15 + 8 / 12 + 1) / 3  # = 0.8
# threshold 0.5: a is right, b misses dog row 1 (4 pixels).
#   background TP 7 + 8 = 15, FP 4 -> 15/19; cat 1; dog TP 4, FN 4 -> 4/8.
MIOU_05 = (15 / 19 + 1 + 4 / 8) / 3
COLOURS = {0: (40, 120, 40), 1: (230, 200, 60), 2: (60, 70, 220), 255: (40, 120, 40)}


def up(array):
    return np.kron(array, np.ones((CELL, CELL), dtype=array.dtype))


def write_voc(tmp_path, images=(('a', GT_A, [0], [MAP_A]), ('b', GT_B, [1], [MAP_B]))):
    root, cam_dir = tmp_path / 'VOC2012', tmp_path / 'cams'
    for folder in ('ImageSets/Segmentation', 'SegmentationClass', 'JPEGImages'):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for image_id, gt, keys, maps in images:
        gt = up(gt).astype(np.uint8)
        Image.fromarray(gt).save(root / 'SegmentationClass' / f'{image_id}.png')
        rgb = np.array([COLOURS[v] for v in gt.ravel()], np.uint8).reshape(gt.shape + (3,))
        Image.fromarray(rgb).save(root / 'JPEGImages' / f'{image_id}.jpg', quality=100, subsampling=0)
        high_res = np.stack([up(m) for m in maps]).astype(np.float32)
        save_cam_file(str(cam_dir / f'{image_id}.npy'), np.array(keys), high_res[:, ::4, ::4], high_res)
    (root / 'ImageSets/Segmentation/train.txt').write_text(
        ''.join(f'{image_id}\n' for image_id, *_ in images))
    return str(cam_dir), str(root)


def test_parse_thresholds():
    values = parse_thresholds('0.05:0.60:0.01')
    assert len(values) == 56 and values[0] == 0.05 and values[-1] == 0.6 and values[11] == 0.16
    np.testing.assert_array_equal(parse_thresholds('0.1, 0.3'), [0.1, 0.3])
    np.testing.assert_array_equal(parse_thresholds('0.25'), [0.25])
    np.testing.assert_array_equal(parse_thresholds([0.2, 0.4]), [0.2, 0.4])
    for bad in ('0.1:0.2', 'a:b:c', '0.5:0.1:0.1', '0.1:0.2:0', '', 'x'):
        with pytest.raises(ValueError, match='bad threshold spec'):
            parse_thresholds(bad)


def test_known_answer_in_process_and_in_workers(tmp_path):
    cam_dir, root = write_voc(tmp_path)
    result = evaluate_seeds(cam_dir, root, thresholds='0.2,0.5', num_workers=0,
                            class_names=CLASSES, progress=False)
    assert result['best_threshold'] == 0.2
    assert result['miou'] == pytest.approx(MIOU_02) == pytest.approx(0.8)
    np.testing.assert_allclose(result['iou'], [11 / 15, 8 / 12, 1])
    np.testing.assert_allclose(result['miou_curve'], [MIOU_02, MIOU_05])
    assert result['class_names'] == CLASSES and result['num_images'] == 2

    in_workers = evaluate_seeds(cam_dir, root, thresholds='0.2,0.5', num_workers=2,
                                class_names=CLASSES, progress=True)
    for key in ('best_threshold', 'miou', 'iou', 'miou_curve', 'thresholds'):
        assert in_workers[key] == result[key]

    # without names the classes are counted from the data; in the full sweep the thresholds
    # 0.31..0.39 lie between the maps' 0.3 (stored as float16 0.30005) and 0.4: perfect seeds
    sweep = evaluate_seeds(cam_dir, root, num_workers=0, progress=False)
    assert sweep['class_names'] == ['background', 'class_1', 'class_2']
    assert len(sweep['miou_curve']) == 56
    assert sweep['best_threshold'] == 0.31 and sweep['miou'] == 1.0
    curve = dict(zip(sweep['thresholds'], sweep['miou_curve']))
    assert curve[0.1] == curve[0.3] == pytest.approx(MIOU_02)
    assert curve[0.39] == 1.0 and curve[0.4] == curve[0.5] == pytest.approx(MIOU_05)


def test_crf_follows_image_colours(tmp_path):
    # each seed error is a band of the wrong colour, smaller than the region of that colour
    gt_a = np.array([[1, 1, 0, 0, 0, 0, 0, 0]] * 4)
    map_a = np.array([[0.8, 0.8, 0.3, 0.1, 0.1, 0.1, 0.1, 0.1]] * 4)  # spills at 0.2
    gt_b = np.array([[2] * 4] * 3 + [[0] * 4] * 5)
    map_b = np.array([[0.9] * 4] * 2 + [[0.4] * 4] + [[0.0] * 4] * 5)  # misses row 2 at 0.5
    cam_dir, root = write_voc(tmp_path, images=(('a', gt_a, [0], [map_a]), ('b', gt_b, [1], [map_b])))
    result = evaluate_seeds(cam_dir, root, thresholds='0.2,0.5', crf=True, num_workers=2,
                            class_names=CLASSES, progress=False)
    assert result['best_threshold'] == result['crf_threshold'] == 0.5
    assert result['miou'] < 0.9 and result['crf_miou'] == 1.0
    at_02 = evaluate_seeds(cam_dir, root, thresholds='0.2,0.5', crf=True, crf_threshold=0.2,
                           num_workers=0, class_names=CLASSES, progress=False)
    assert at_02['crf_threshold'] == 0.2 and at_02['crf_miou'] == 1.0
    np.testing.assert_array_equal(at_02['crf_iou'], [1, 1, 1])


def test_errors_name_the_file(tmp_path):
    cam_dir, root = write_voc(tmp_path)
    os.remove(os.path.join(root, 'SegmentationClass', 'a.png'))
    with pytest.raises(FileNotFoundError, match='a.png'):
        evaluate_seeds(cam_dir, root, progress=False)
    os.remove(os.path.join(cam_dir, 'b.npy'))
    with pytest.raises(FileNotFoundError, match='b.npy'):
        evaluate_seeds(cam_dir, root, num_workers=2, progress=False)
    with pytest.raises(FileNotFoundError, match='val.txt'):
        evaluate_seeds(cam_dir, root, split='val', progress=False)


def test_shape_and_label_errors(tmp_path):
    small = np.zeros((2, 2))
    cam_dir, root = write_voc(tmp_path, images=(('a', GT_A, [0], [MAP_A]), ('c', small, [0], [MAP_A])))
    with pytest.raises(ValueError, match='c.npy.*ground truth'):
        evaluate_seeds(cam_dir, root, num_workers=2, progress=False)
    cam_dir, root = write_voc(tmp_path, images=(('a', GT_A, [5], [MAP_A]),))
    with pytest.raises(ValueError, match='a.npy.*class id 5'):
        evaluate_seeds(cam_dir, root, num_workers=0, class_names=CLASSES, progress=False)


def test_tool_prints_table_and_writes_json(tmp_path, monkeypatch, capsys):
    cam_dir, root = write_voc(tmp_path)
    out_json = tmp_path / 'seeds.json'
    monkeypatch.setattr(sys, 'argv', ['eval_seeds.py', '--cam-dir', cam_dir, '--data-root', root,
                                      '--thresholds', '0.2,0.5', '--num-workers', '0',
                                      '--out-json', str(out_json)])
    runpy.run_path(TOOL, run_name='__main__')
    printed = capsys.readouterr().out
    assert 'best background threshold: 0.20' in printed and 'aeroplane' in printed
    saved = json.loads(out_json.read_text())
    # VOC's 21 names: the classes absent from gt and seeds have no IoU and do not count
    assert len(saved['class_names']) == 21 and saved['iou'][5] is None
    assert saved['miou'] == pytest.approx(MIOU_02)
