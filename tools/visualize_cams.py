"""Panels of class maps per image: heat maps per present class, seeds, seeds + CRF, masks.

    python tools/visualize_cams.py --cam-dir work_dirs/demo/cam_maps \
        [--advcam-dir work_dirs/demo/advcam_maps] --data-root DIR [--ids ID ... | --num N] \
        --out-dir DIR [--seed-threshold T[,T2]] [--pseudo-dir DIR] [--classes voc|embedded]

``--seed-threshold`` also takes the JSON files of ``tools/eval_seeds.py --out-json``
(their best threshold), e.g. ``cam_seeds.json,advcam_seeds.json``.

``--cam-dir`` takes any folder of class-map files (CAM or AdvCAM, as written by
tools/make_cams.py); ``--advcam-dir`` adds a second row (e.g. AdvCAM under
CAM). Name the rows with ``--cam-name`` / ``--advcam-name``. The ground truth
(``SegmentationClass``, else ``SegmentationClassAug``) and the pseudo mask are
shown where they exist. Writes ``OUT_DIR/<image_id>.png``.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))

from advcam_mm.apis.visualize import (DEFAULT_SEED_THRESHOLD, default_class_names,  # noqa: E402
                                      visualize_cams)


def parse_args():
    parser = argparse.ArgumentParser(description='Per-image panels of CAM / AdvCAM maps, seeds and masks')
    parser.add_argument('--cam-dir', required=True, help='class-map folder (CAM or AdvCAM) of the first row')
    parser.add_argument('--advcam-dir', help='optional second class-map folder (e.g. AdvCAM)')
    parser.add_argument('--cam-name', default='CAM', help='name of the --cam-dir row')
    parser.add_argument('--advcam-name', default='AdvCAM', help='name of the --advcam-dir row')
    parser.add_argument('--data-root', required=True, help='the VOC2012 folder')
    parser.add_argument('--ids', nargs='+', help='image ids (default: the first --num of --split)')
    parser.add_argument('--num', type=int, default=8, help='number of images when no --ids (default 8)')
    parser.add_argument('--split', default='train', help='ImageSets/Segmentation/<split>.txt')
    parser.add_argument('--out-dir', required=True, help='folder for <image_id>.png panels')
    parser.add_argument('--seed-threshold', default=str(DEFAULT_SEED_THRESHOLD),
                        help='background threshold of the seeds: one value, or one per map folder (a,b); '
                        'a value may be a tools/eval_seeds.py --out-json file (its best threshold)')
    parser.add_argument('--pseudo-dir', help='folder of pseudo-mask PNGs (tools/make_sem_seg_labels.py)')
    parser.add_argument('--mask-dir', help='ground-truth folder under data root '
                        '(default: SegmentationClass, else SegmentationClassAug)')
    parser.add_argument('--classes', choices=['voc', 'embedded'],
                        help='class names (default: embedded for the embedded dataset, else voc)')
    parser.add_argument('--no-crf', action='store_true', help='leave out the CRF-refined seeds')
    return parser.parse_args()


def main():
    args = parse_args()
    paths = visualize_cams(args.cam_dir, args.data_root, args.out_dir, ids=args.ids, num=args.num,
                           split=args.split, advcam_dir=args.advcam_dir,
                           seed_threshold=args.seed_threshold,
                           pseudo_dir=args.pseudo_dir, class_names=default_class_names(args.data_root, args.classes),
                           mask_dir=args.mask_dir, crf=not args.no_crf, cam_name=args.cam_name,
                           advcam_name=args.advcam_name)
    print(f'wrote {len(paths)} panel(s) to {args.out_dir}')


if __name__ == '__main__':
    main()
