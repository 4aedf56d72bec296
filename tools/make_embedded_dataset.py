"""Generate the embedded default dataset (small synthetic PASCAL VOC layout; nothing is downloaded).

Example:
    python tools/make_embedded_dataset.py --out data/embedded
    # -> data/embedded/VOCdevkit/VOC2012 (use it as data_root, classes EMBEDDED_CLASSES)
"""
import argparse
import os.path as osp
import time

from advcam_mm.datasets.embedded_dataset import EMBEDDED_CLASSES, make_embedded_voc


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='data/embedded', help='output root (dataset in <out>/VOCdevkit/VOC2012)')
    parser.add_argument('--num-train', type=int, default=160, help='images in train_aug')
    parser.add_argument('--num-train-subset', type=int, default=60, help='first train_aug ids forming train')
    parser.add_argument('--num-val', type=int, default=40, help='images in val')
    parser.add_argument('--image-size', type=int, default=128, help='square image side in pixels')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--force', action='store_true', help='regenerate even when complete')
    return parser.parse_args()


def main():
    args = parse_args()
    start = time.perf_counter()
    voc_dir = make_embedded_voc(args.out, num_train=args.num_train, num_val=args.num_val,
                                num_train_subset=args.num_train_subset, image_size=args.image_size,
                                seed=args.seed, force=args.force)
    counts = {}
    for split in ('train', 'train_aug', 'val'):
        with open(osp.join(voc_dir, 'ImageSets', 'Segmentation', split + '.txt')) as f:
            counts[split] = sum(1 for line in f if line.strip())
    print(f'{voc_dir}  ({time.perf_counter() - start:.1f} s)')
    print('  ' + ', '.join(f'{k}: {v}' for k, v in counts.items()) + f'; classes: {", ".join(EMBEDDED_CLASSES)}')


if __name__ == '__main__':
    main()
