"""Evaluate seeds of a class-map folder: best background threshold, mIoU, per-class IoU.

The paper's "Seed" column (best mIoU over the threshold sweep) and, with
``--crf``, its "+CRF" column (IRN's dense CRF at that threshold).
"""
import argparse
import json
import math
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))

from advcam_mm.apis.eval_seeds import (DEFAULT_THRESHOLDS, dataset_class_names,  # noqa: E402
                                       evaluate_seeds)
from advcam_mm.fileio import atomic_write  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description='Seed mIoU of class maps over background thresholds')
    parser.add_argument('--cam-dir', required=True, help='folder of <image_id>.npy class-map files')
    parser.add_argument('--data-root', required=True, help='the VOC2012 folder')
    parser.add_argument('--split', default='train', help='ImageSets/Segmentation/<split>.txt')
    parser.add_argument('--mask-dir', default='SegmentationClass', help='ground-truth folder under data root')
    parser.add_argument('--thresholds', default=DEFAULT_THRESHOLDS,
                        help='background thresholds: start:stop:step (stop included), a,b,c or one value')
    parser.add_argument('--crf', action='store_true', help='also evaluate CRF-refined seeds at the best threshold')
    parser.add_argument('--crf-threshold', type=float, help='threshold for the CRF seeds (default: best)')
    parser.add_argument('--num-workers', type=int, default=2, help='worker processes (0: none)')
    parser.add_argument('--classes', choices=['voc', 'embedded'], default='voc', help='class names')
    parser.add_argument('--out-json', help='write the results (with the mIoU curve) to this file')
    return parser.parse_args()


def percent(value):
    return f'{"-":>6}' if math.isnan(value) else f'{100 * value:6.2f}'


def main():
    args = parse_args()
    result = evaluate_seeds(args.cam_dir, args.data_root, split=args.split, mask_dir=args.mask_dir,
                            thresholds=args.thresholds, crf=args.crf, crf_threshold=args.crf_threshold,
                            num_workers=args.num_workers, class_names=dataset_class_names(args.classes))
    width = max(len(name) for name in result['class_names'])
    header = f'{"class":<{width}} {"Seed":>6}' + (f' {"+CRF":>6}' if args.crf else '')
    print(header)
    print('-' * len(header))
    for index, name in enumerate(result['class_names']):
        row = f'{name:<{width}} {percent(result["iou"][index])}'
        if args.crf:
            row += f' {percent(result["crf_iou"][index])}'
        print(row)
    print('-' * len(header))
    print(f'{"mIoU":<{width}} {percent(result["miou"])}' +
          (f' {percent(result["crf_miou"])}' if args.crf else ''))
    print(f'images: {result["num_images"]}  best background threshold: {result["best_threshold"]:.2f}'
          f'  seed mIoU: {100 * result["miou"]:.2f}')
    if args.crf:
        print(f'+CRF at threshold {result["crf_threshold"]:.2f}: mIoU {100 * result["crf_miou"]:.2f}')
    if args.out_json:
        def no_nan(value):
            if isinstance(value, float) and math.isnan(value):
                return None
            if isinstance(value, list):
                return [no_nan(v) for v in value]
            if isinstance(value, dict):
                return {k: no_nan(v) for k, v in value.items()}
            return value
        with atomic_write(args.out_json, 'w') as f:
            json.dump(no_nan(result), f, indent=2)
        print(f'results written to {args.out_json}')


if __name__ == '__main__':
    main()
