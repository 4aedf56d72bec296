"""Generate the COCO-format miniature (COCO 2014 layout and JSON from the embedded generator; nothing downloaded).

Example:
    python tools/make_coco_miniature.py --out data/coco_miniature
    python tools/convert_coco.py --data-root data/coco_miniature
"""
import argparse
import os.path as osp
import sys
import time

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))

from advcam_mm.datasets.coco_miniature import make_coco_miniature  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='data/coco_miniature', help='the COCO folder to write')
    parser.add_argument('--num-train', type=int, default=24, help='images in train2014')
    parser.add_argument('--num-val', type=int, default=12, help='images in val2014')
    parser.add_argument('--image-size', type=int, default=128, help='side of the scenes before cropping')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--force', action='store_true', help='regenerate even when complete')
    return parser.parse_args()


def main():
    args = parse_args()
    start = time.perf_counter()
    root = make_coco_miniature(args.out, num_train=args.num_train, num_val=args.num_val,
                               image_size=args.image_size, seed=args.seed, force=args.force)
    print(f'{root}  ({time.perf_counter() - start:.1f} s): train2014 {args.num_train}, val2014 {args.num_val} '
          f'images; convert it with: python tools/convert_coco.py --data-root {root}')


if __name__ == '__main__':
    main()
