"""Convert MS COCO 2014 instance annotations to semantic masks, split lists and image labels.

Reads <data-root>/annotations/instances_<split>.json and <data-root>/<split>/*.jpg and writes
SegmentationClass/<split>/<id>.png (0 background, 1..80, 255 ignore), ImageSets/<split>.txt and
cls_labels_coco.npy (layout and rule: advcam_mm/datasets/coco_conversion.py). Resumable.

Example:
    python tools/convert_coco.py --data-root data/coco2014 --num-workers 16
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))

from advcam_mm.stages.progress import RankZeroProgress  # noqa: E402
from advcam_mm.datasets.coco_conversion import convert_coco  # noqa: E402
from advcam_mm.datasets.coco_metainfo import SPLITS  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data-root', required=True, help='the COCO folder (annotations/, train2014/, val2014/)')
    parser.add_argument('--splits', nargs='+', default=list(SPLITS), help='splits to convert')
    parser.add_argument('--out-root', default=None, help='where the outputs go (default: --data-root)')
    parser.add_argument('--num-workers', type=int, default=None, help='worker processes (default: CPU count)')
    parser.add_argument('--force', action='store_true',
                        help='convert again, also over outputs made with other settings')
    return parser.parse_args()


def main():
    args = parse_args()
    results = convert_coco(args.data_root, splits=args.splits, out_root=args.out_root,
                           num_workers=args.num_workers, force=args.force,
                           progress_factory=lambda title, total: RankZeroProgress(total=total, title=title))
    for split, result in results.items():
        ignored = result['ignored_fraction']
        ignored = '' if ignored is None else f', {100 * ignored:.2f} % of their pixels ignored (crowd/overlap)'
        print(f'{split}: {result["images"]} images listed ({result["excluded"]} without annotations left out), '
              f'{result["written"]} masks written{ignored}, {result["skipped"]} already there, '
              f'{result["seconds"]:.1f} s')


if __name__ == '__main__':
    main()
