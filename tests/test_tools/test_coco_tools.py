"""The COCO data tools from the command line: make the miniature, convert it, rerun (the stages that follow:
tests/test_stages/test_coco_pipeline.py)."""
import json
import os.path as osp
import re

from conftest import run_tool


def test_make_and_convert_from_the_command_line(tmp_path):
    root = str(tmp_path / 'coco2014')
    made = run_tool(['tools/make_coco_miniature.py', '--out', root, '--num-train', '6', '--num-val', '3'])
    assert 'train2014 6, val2014 3 images' in made.stdout
    converted = run_tool(['tools/convert_coco.py', '--data-root', root, '--num-workers', '2'])
    assert re.search(r'train2014 masks: 5/5, [0-9.]+ images/s, ETA', converted.stdout)
    assert 'train2014: 5 images listed (1 without annotations left out), 5 masks written' in converted.stdout
    assert 'val2014: 2 images listed' in converted.stdout
    for split in ('train2014', 'val2014'):
        manifest = json.load(open(osp.join(root, 'SegmentationClass', split, 'stage_manifest.json')))
        assert manifest['stage'] == 'coco_conversion' and manifest['status'] == 'complete'
    again = run_tool(['tools/convert_coco.py', '--data-root', root, '--splits', 'val2014'])
    assert 'val2014: 2 images listed (1 without annotations left out), 0 masks written, 2 already there' \
        in again.stdout
