"""Write cls_labels.npy (image id -> multi-hot over the foreground classes, IRN's format) from masks.

Example:
    python tools/make_cls_labels.py --data-root data/VOCdevkit/VOC2012 --splits train_aug val
"""
import argparse

from advcam_mm.stages.progress import RankZeroProgress
from advcam_mm.datasets.cls_labels import make_cls_labels_file


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data-root', required=True, help='the VOC2012 folder')
    parser.add_argument('--splits', nargs='+', default=['train_aug', 'val'],
                        help='split names under ImageSets/Segmentation, or split .txt files')
    parser.add_argument('--mask-dir', default='SegmentationClassAug',
                        help='class-index mask folder, relative to --data-root or absolute')
    parser.add_argument('--num-classes', type=int, default=21, help='number of classes including background')
    parser.add_argument('--out', default=None, help='output file (default <data-root>/cls_labels.npy)')
    return parser.parse_args()


def main():
    args = parse_args()
    progress = []

    def on_image(total):
        if not progress:
            progress.append(RankZeroProgress(total=total, title='reading masks'))
        progress[0].update()

    out, labels = make_cls_labels_file(args.data_root, args.splits, args.mask_dir, args.num_classes,
                                       args.out, on_image=on_image)
    if progress:
        progress[0].close()
    per_class = [int(c) for c in sum(labels.values())] if labels else []
    print(f'wrote {out}: {len(labels)} images; images per foreground class: {per_class}')


if __name__ == '__main__':
    main()
