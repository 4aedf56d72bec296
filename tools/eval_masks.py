"""Evaluate pseudo masks (PNG folder) against ground truth: mIoU and per-class IoU.

The paper's "Mask" column (AdvCAM + IRN on VOC train: 69.9 mIoU with ResNet-50).

    python tools/eval_masks.py --mask-dir DIR --data-root VOC2012 [--split train] [--classes voc|embedded]
"""
import argparse
import json
import math
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))

from advcam_mm.apis.eval_masks import evaluate_masks  # noqa: E402
from advcam_mm.apis.eval_seeds import dataset_class_names  # noqa: E402
from advcam_mm.fileio import atomic_write  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description='mIoU of pseudo masks against ground truth')
    parser.add_argument('--mask-dir', required=True, help='folder of <image_id>.png pseudo masks')
    parser.add_argument('--data-root', required=True, help='the VOC2012 folder')
    parser.add_argument('--split', default='train', help='ImageSets/Segmentation/<split>.txt')
    parser.add_argument('--gt-dir', default='SegmentationClass', help='ground-truth folder under data root')
    parser.add_argument('--num-workers', type=int, default=2, help='worker processes (0: none)')
    parser.add_argument('--classes', choices=['voc', 'embedded'], default='voc', help='class names')
    parser.add_argument('--out-json', help='write the results to this file')
    return parser.parse_args()


def main():
    args = parse_args()
    result = evaluate_masks(args.mask_dir, args.data_root, split=args.split, gt_dir=args.gt_dir,
                            num_workers=args.num_workers, class_names=dataset_class_names(args.classes))
    width = max(len(name) for name in result['class_names'])
    print(f'{"class":<{width}}   Mask')
    print('-' * (width + 8))
    for name, iou in zip(result['class_names'], result['iou']):
        print(f'{name:<{width}} ' + ('     - ' if math.isnan(iou) else f'{100 * iou:6.2f}'))
    print('-' * (width + 8))
    print(f'{"mIoU":<{width}} {100 * result["miou"]:6.2f}')
    print(f'images: {result["num_images"]}  mask mIoU: {100 * result["miou"]:.2f}')
    if args.out_json:
        with atomic_write(args.out_json, 'w') as f:
            json.dump({**result, 'iou': [None if math.isnan(v) else v for v in result['iou']]}, f, indent=2)
        print(f'results written to {args.out_json}')


if __name__ == '__main__':
    main()
