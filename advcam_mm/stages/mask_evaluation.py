"""Stage: mIoU of a pseudo-mask folder (the paper's "Mask" column, Table 1).

Reads     a label folder (complete manifest: pseudo masks, or any stage's label PNGs);
          the config's evaluation split (``label_evaluation``) and its ground truth.
Writes    ``<out_dir>/metrics.json`` (mIoU, per-class IoU) and the manifest.
Settings  ``split``.

    python tools/eval_masks.py CONFIG --mask-dir DIR [--split train] [--out-dir DIR]
"""
import argparse
import functools
import os.path as osp

import numpy as np

from ..evaluation.iou_table import iou_table
from ..evaluation.mask_metric import mask_confusion, mask_result
from ..fileio.label_png import label_png_path, load_label_png
from ..fileio.manifest import folder_input
from .datasets import class_names, dataset_input, evaluation_dataset, samples
from .output_folder import METRICS_FILE, OutputFolder, evaluate_into, metrics_status
from .runner import load_config
from .worker_pool import check_files_exist, map_images

STAGE = 'mask_evaluation'


def _confusion(info, mask_dir, num_classes):
    path = label_png_path(mask_dir, info['img_id'])
    return mask_confusion(load_label_png(path, 'pseudo mask'),
                          load_label_png(info['seg_map_path'], 'ground-truth mask'), num_classes, path,
                          info['seg_map_path'])


def evaluate_masks(infos, mask_dir, names, num_workers=2, progress=True) -> dict:
    """mIoU of ``<mask_dir>/<id>.png`` over the images ``infos`` (``img_id``, ``seg_map_path``)."""
    check_files_exist([label_png_path(mask_dir, i['img_id']) for i in infos], 'pseudo mask')
    check_files_exist([i['seg_map_path'] for i in infos], 'ground-truth mask')
    work = functools.partial(_confusion, mask_dir=mask_dir, num_classes=len(names))
    total = np.zeros((len(names), len(names)), np.int64)
    for counts in map_images(work, infos, num_workers, 'mask evaluation', progress):
        total += counts
    return dict(mask_result(total, names), num_images=len(infos))


def default_out_dir(mask_dir: str, split: str) -> str:
    return osp.normpath(mask_dir) + f'_eval_{split}'


def describe(cfg, mask_dir, split=None, out_dir=None) -> tuple:
    dataset = evaluation_dataset(cfg, split)
    split = split or cfg.label_evaluation['split']
    folder = OutputFolder(out_dir or default_out_dir(mask_dir, split), STAGE, dict(split=split),
                          dict(masks=folder_input(mask_dir), dataset=dataset_input(dataset)),
                          patterns=(METRICS_FILE,))
    return folder, dataset


def format_result(result: dict) -> str:
    return (iou_table(result['class_names'], {'Mask': result['iou']}, {'Mask': result['miou']}) +
            f"\nimages: {result['num_images']}  mask mIoU: {100 * result['miou']:.2f}")


def run(config, mask_dir, split=None, out_dir=None, regenerate=False, num_workers=2, cfg_options=None,
        progress=True) -> dict:
    cfg = load_config(config, cfg_options)
    folder, dataset = describe(cfg, mask_dir, split, out_dir)
    return evaluate_into(folder, lambda: evaluate_masks(samples(dataset), mask_dir, class_names(dataset),
                                                        num_workers, progress), regenerate)


def status(args) -> str:
    cfg = load_config(args.config, args.cfg_options)
    return metrics_status(describe(cfg, args.mask_dir, args.split, args.out_dir)[0], args.regenerate)


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description='mIoU of a folder of pseudo masks against the ground truth')
    parser.add_argument('config', help='a config of the dataset (label_evaluation, val dataset: root, classes)')
    parser.add_argument('--mask-dir', required=True, help='folder of <image_id>.png masks (with its manifest)')
    parser.add_argument('--split', help="default: the config's label_evaluation.split (train)")
    parser.add_argument('--out-dir', help='folder for metrics.json (default: <mask-dir>_eval_<split>)')
    parser.add_argument('--num-workers', type=int, default=2, help='worker processes (0: none)')
    parser.add_argument('--regenerate', action='store_true', help='replace an evaluation made otherwise')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    result = run(args.config, args.mask_dir, args.split, args.out_dir, args.regenerate, args.num_workers,
                 args.cfg_options)
    print(format_result(result))
    print(f"results in {osp.join(result['out_dir'], METRICS_FILE)}", flush=True)


if __name__ == '__main__':
    main()
