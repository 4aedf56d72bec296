"""Stage: seed mIoU of a class-map folder (the paper's "Seed" and "+CRF" columns, Table 1).

Reads     a class-map folder (complete manifest); the config's evaluation split
          (``label_evaluation``: ``split``, ``mask_dir``; data root and class
          names of its validation dataset) with its ground truth and images.
Writes    ``<out_dir>/metrics.json`` (best threshold, mIoU, per-class IoU, the
          mIoU of every threshold; with ``--crf`` the same for the CRF seeds) and the manifest.
Settings  ``split``, the threshold sweep (:data:`advcam_mm.evaluation.seed_metric.SEED_THRESHOLDS`),
          with ``--crf`` the config's ``seed_crf`` and its threshold (default: the sweep's best).

    python tools/eval_seeds.py CONFIG --cam-dir DIR [--split train] [--crf] [--out-dir DIR]
"""
import argparse
import functools
import os.path as osp

import numpy as np

from ..evaluation.iou_table import iou_table
from ..evaluation.seed_metric import (SEED_THRESHOLDS, check_class_ids, crf_result, crf_seed_confusion,
                                      parse_thresholds, seed_sweep_confusions, seed_sweep_result)
from ..fileio.cam_files import cam_file_path, load_cam_file
from ..fileio.images import read_rgb
from ..fileio.label_png import load_label_png
from ..fileio.manifest import folder_input
from .datasets import class_names, dataset_input, evaluation_dataset, samples
from .output_folder import METRICS_FILE, OutputFolder, evaluate_into, metrics_status
from .runner import load_config
from .settings import seed_crf_settings
from .worker_pool import check_files_exist, map_images

STAGE = 'seed_evaluation'


def _load(info, cam_dir, num_classes):
    cam_path = cam_file_path(cam_dir, info['img_id'])
    maps = load_cam_file(cam_path)
    gt = load_label_png(info['seg_map_path'], 'ground-truth mask')
    if maps['high_res'].shape[1:] != gt.shape:
        raise ValueError(f"{cam_path}: maps of size {maps['high_res'].shape[1:]} but ground truth "
                         f"{info['seg_map_path']} is {gt.shape}")
    check_class_ids(maps['keys'], gt, num_classes, cam_path, info['seg_map_path'])
    return maps, gt


def _sweep_image(info, cam_dir, thresholds, num_classes):
    maps, gt = _load(info, cam_dir, num_classes)
    return seed_sweep_confusions(maps['high_res'], maps['keys'], gt, thresholds, num_classes)


def _crf_image(info, cam_dir, threshold, num_classes, crf):
    maps, gt = _load(info, cam_dir, num_classes)
    image = read_rgb(info['img_path'])
    if image.shape[:2] != gt.shape:
        raise ValueError(f"{info['img_path']}: image is {image.shape[:2]} but ground truth "
                         f"{info['seg_map_path']} is {gt.shape}")
    return crf_seed_confusion(image, maps['high_res'], maps['keys'], gt, threshold, num_classes, **crf)


def evaluate_seeds(infos, cam_dir, names, thresholds=SEED_THRESHOLDS, crf=None, crf_threshold=None,
                   num_workers=2, progress=True) -> dict:
    """Seed mIoU of ``cam_dir`` over the images ``infos`` (``img_id``, ``img_path``, ``seg_map_path``);
    with ``crf`` also "+CRF": the CRF's settings (:func:`advcam_mm.stages.settings.seed_crf_settings`),
    True for IRN's; None or False: no CRF."""
    crf = {} if crf is True else None if crf is False else crf
    thresholds = parse_thresholds(thresholds)
    num_classes = len(names)
    check_files_exist([cam_file_path(cam_dir, i['img_id']) for i in infos], 'class-map file',
                      ' (run tools/make_cams.py on this split first)')
    check_files_exist([i['seg_map_path'] for i in infos], 'ground-truth mask')
    sweep = functools.partial(_sweep_image, cam_dir=cam_dir, thresholds=thresholds, num_classes=num_classes)
    total = np.zeros((len(thresholds), num_classes, num_classes), np.int64)
    for counts in map_images(sweep, infos, num_workers, 'seed sweep', progress):
        total += counts
    result = dict(seed_sweep_result(total, thresholds, names), num_images=len(infos))
    if crf is not None:
        check_files_exist([i['img_path'] for i in infos], 'image')
        threshold = result['best_threshold'] if crf_threshold is None else float(crf_threshold)
        refine = functools.partial(_crf_image, cam_dir=cam_dir, threshold=threshold, num_classes=num_classes,
                                   crf=dict(crf))
        crf_total = np.zeros((num_classes, num_classes), np.int64)
        for counts in map_images(refine, infos, num_workers, 'CRF seeds', progress):
            crf_total += counts
        result.update(crf_result(crf_total, threshold))
    return result


def default_out_dir(cam_dir: str, split: str) -> str:
    return osp.normpath(cam_dir) + f'_seeds_{split}'


def describe(cfg, cam_dir, split=None, crf=False, crf_threshold=None, out_dir=None) -> tuple:
    dataset = evaluation_dataset(cfg, split)
    split = split or cfg.label_evaluation['split']
    settings = dict(split=split, thresholds=parse_thresholds(SEED_THRESHOLDS).tolist(),
                    crf=seed_crf_settings(cfg) if crf else False, crf_threshold=crf_threshold)
    folder = OutputFolder(out_dir or default_out_dir(cam_dir, split), STAGE, settings,
                          dict(class_maps=folder_input(cam_dir), dataset=dataset_input(dataset)),
                          patterns=(METRICS_FILE,))
    return folder, dataset


def format_result(result: dict) -> str:
    columns = {'Seed': result['iou']}
    mious = {'Seed': result['miou']}
    if 'crf_iou' in result:
        columns['+CRF'] = result['crf_iou']
        mious['+CRF'] = result['crf_miou']
    text = iou_table(result['class_names'], columns, mious)
    text += (f"\nimages: {result['num_images']}  best background threshold: {result['best_threshold']:.2f}"
             f"  seed mIoU: {100 * result['miou']:.2f}")
    if 'crf_miou' in result:
        text += f"\n+CRF at threshold {result['crf_threshold']:.2f}: mIoU {100 * result['crf_miou']:.2f}"
    return text


def run(config, cam_dir, split=None, crf=False, crf_threshold=None, out_dir=None, regenerate=False,
        num_workers=2, cfg_options=None, progress=True) -> dict:
    """Evaluate (or reuse the evaluation of) ``cam_dir``; return the metrics with ``out_dir``."""
    cfg = load_config(config, cfg_options)
    folder, dataset = describe(cfg, cam_dir, split, crf, crf_threshold, out_dir)
    return evaluate_into(folder, lambda: evaluate_seeds(samples(dataset), cam_dir, class_names(dataset),
                                                        SEED_THRESHOLDS, folder.settings['crf'], crf_threshold,
                                                        num_workers, progress), regenerate)


def status(args) -> str:
    cfg = load_config(args.config, args.cfg_options)
    folder = describe(cfg, args.cam_dir, args.split, args.crf, args.crf_threshold, args.out_dir)[0]
    return metrics_status(folder, args.regenerate)


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description='Seed mIoU of class maps over background thresholds')
    parser.add_argument('config', help='a config of the dataset (label_evaluation, val dataset: root, classes)')
    parser.add_argument('--cam-dir', required=True, help='class-map folder (tools/make_cams.py)')
    parser.add_argument('--split', help="default: the config's label_evaluation.split (train)")
    parser.add_argument('--crf', action='store_true', help='also score the CRF-refined seeds at the best threshold')
    parser.add_argument('--crf-threshold', type=float, help='threshold of the CRF seeds (default: the best)')
    parser.add_argument('--out-dir', help='folder for metrics.json (default: <cam-dir>_seeds_<split>)')
    parser.add_argument('--num-workers', type=int, default=2, help='worker processes (0: none)')
    parser.add_argument('--regenerate', action='store_true', help='replace an evaluation made otherwise')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    result = run(args.config, args.cam_dir, args.split, args.crf, args.crf_threshold, args.out_dir,
                 args.regenerate, args.num_workers, args.cfg_options)
    print(format_result(result))
    print(f"results in {osp.join(result['out_dir'], METRICS_FILE)}", flush=True)


if __name__ == '__main__':
    main()
