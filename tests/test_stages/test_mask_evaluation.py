"""Mask-evaluation stage (the paper's "Mask" column): a known answer, errors, the tool, rerun / refuse / regenerate."""
import json
import os
import os.path as osp

import numpy as np
import pytest

from advcam_mm.fileio.label_png import save_label_png
from advcam_mm.fileio.manifest import ManifestError, read_manifest
from advcam_mm.stages import mask_evaluation
from advcam_mm.stages.output_folder import StageMismatchError
from conftest import mtimes
from helpers.hand_made_voc import CLASSES, evaluation_config, mark_complete, write_voc
from test_evaluation.test_mask_metric import GT_A, GT_B, IOU, MASK_A, MASK_B


def write_case(tmp_path, masks=(('a', GT_A, MASK_A), ('b', GT_B, MASK_B))):
    root = write_voc(str(tmp_path / 'VOC2012'), {i: gt for i, gt, _ in masks},
                     dict(train=[m[0] for m in masks], val=[masks[0][0]]))
    mask_dir = str(tmp_path / 'masks')
    for image_id, _, mask in masks:
        save_label_png(osp.join(mask_dir, f'{image_id}.png'), mask)
    mark_complete(mask_dir, 'pseudo_masks', dict(hand_made=True))
    infos = [dict(img_id=i, seg_map_path=osp.join(root, 'SegmentationClass', f'{i}.png')) for i, *_ in masks]
    return root, mask_dir, infos, evaluation_config(str(tmp_path / 'eval.py'), root)


def test_known_answer_in_process_and_in_workers(tmp_path):
    _, mask_dir, infos, _ = write_case(tmp_path)
    result = mask_evaluation.evaluate_masks(infos, mask_dir, CLASSES, num_workers=0, progress=False)
    np.testing.assert_allclose(result['iou'], IOU)
    assert result['miou'] == pytest.approx(np.mean(IOU)) and result['num_images'] == 2
    in_workers = mask_evaluation.evaluate_masks(infos, mask_dir, CLASSES, num_workers=2, progress=True)
    assert in_workers['iou'] == result['iou']


def test_errors_name_the_file(tmp_path):
    _, mask_dir, infos, _ = write_case(tmp_path)
    os.remove(osp.join(mask_dir, 'b.png'))
    with pytest.raises(FileNotFoundError, match='b.png: pseudo mask not found'):
        mask_evaluation.evaluate_masks(infos, mask_dir, CLASSES, progress=False)
    _, mask_dir, infos, _ = write_case(tmp_path / 'small', masks=(('a', GT_A, MASK_A),
                                                                 ('c', GT_A, np.zeros((2, 2), int))))
    with pytest.raises(ValueError, match=r'c.png: mask of size \(2, 2\)'):
        mask_evaluation.evaluate_masks(infos, mask_dir, CLASSES, num_workers=2, progress=False)
    _, mask_dir, infos, config = write_case(tmp_path / 'ignore', masks=(('a', GT_A, np.where(MASK_A == 1, 255, 0)),))
    with pytest.raises(ValueError, match='a.png: mask value 255 outside the 3 classes'):
        mask_evaluation.evaluate_masks(infos, mask_dir, CLASSES, num_workers=0, progress=False)
    os.remove(osp.join(mask_dir, 'stage_manifest.json'))  # e.g. a folder of the user's own masks
    with pytest.raises(ManifestError, match='no stage_manifest.json'):
        mask_evaluation.run(config, mask_dir, out_dir=str(tmp_path / 'out'), progress=False)


def test_tool_prints_the_table_and_reruns_refuses_regenerates(tmp_path, capsys):
    _, mask_dir, _, config = write_case(tmp_path)
    out_dir = str(tmp_path / 'masks_eval')
    argv = [config, '--mask-dir', mask_dir, '--out-dir', out_dir, '--num-workers', '0']
    mask_evaluation.main(argv)
    printed = capsys.readouterr().out
    assert f'mask mIoU: {100 * np.mean(IOU):.2f}' in printed
    rows = {line.split()[0]: line.split()[1] for line in printed.splitlines() if line.split()[:1] in
            [[name] for name in CLASSES]}
    assert rows == {'background': f'{100 * IOU[0]:.2f}', 'cat': f'{100 * IOU[1]:.2f}', 'dog': f'{100 * IOU[2]:.2f}'}
    with open(osp.join(out_dir, 'metrics.json')) as f:
        saved = json.load(f)
    assert saved['class_names'] == list(CLASSES) and saved['miou'] == pytest.approx(np.mean(IOU))
    assert read_manifest(out_dir)['outputs']['miou'] == pytest.approx(np.mean(IOU))
    before = mtimes(out_dir)

    mask_evaluation.main(argv)
    assert f'mask mIoU: {100 * np.mean(IOU):.2f}' in capsys.readouterr().out and mtimes(out_dir) == before
    with pytest.raises(StageMismatchError, match="settings.split: 'train' -> 'val'"):
        mask_evaluation.main(argv + ['--split', 'val'])
    mark_complete(mask_dir, 'pseudo_masks', dict(hand_made=True, remade=True))  # other masks now
    with pytest.raises(StageMismatchError, match=r'inputs\.masks\.manifest: '):
        mask_evaluation.main(argv)
    assert mtimes(out_dir) == before
    mask_evaluation.main(argv + ['--split', 'val', '--regenerate'])
    assert 'images: 1' in capsys.readouterr().out
    with open(osp.join(out_dir, 'metrics.json')) as f:  # image a alone: background 3/7, cat 8/12
        assert json.load(f)['iou'][:2] == pytest.approx([3 / 7, 8 / 12])
