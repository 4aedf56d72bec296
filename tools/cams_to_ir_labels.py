"""Make IRN's inter-pixel relation labels from class maps (dense CRF, worker processes, resumable).

    python tools/cams_to_ir_labels.py --cam-dir DIR --data-root VOC2012 --out-dir DIR [--split train_aug]
    python tools/cams_to_ir_labels.py --config configs/advcam/irn_resnet50_voc.py --cam-dir DIR

With ``--config`` the data root, the split and the output folder are those
the IRNet config trains on, and the thresholds its ``ir_labels`` dict (if
any); explicit arguments override. Thresholds default to AdvCAM's
0.35 / 0.15 (IRN's own: ``--conf-fg-thres 0.30 --conf-bg-thres 0.05``).
A rerun skips finished images.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))

os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

import advcam_mm  # noqa: E402,F401
from advcam_mm.apis.ir_labels import ir_label_dir_of, ir_label_settings, make_ir_labels  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description='Class maps -> IR labels (confident fg / bg / unsure)')
    parser.add_argument('--cam-dir', required=True, help='folder of <image_id>.npy class-map files')
    parser.add_argument('--config', help='IRNet config: default data root, split, output folder, thresholds')
    parser.add_argument('--data-root', help='the VOC2012 folder')
    parser.add_argument('--split', help='ImageSets/Segmentation/<split>.txt (default train_aug or the config\'s)')
    parser.add_argument('--out-dir', help='folder for <image_id>.png IR labels')
    parser.add_argument('--conf-fg-thres', type=float, help='background score of confident foreground (0.35)')
    parser.add_argument('--conf-bg-thres', type=float, help='background score of confident background (0.15)')
    parser.add_argument('--num-workers', type=int, default=2, help='worker processes (0: none)')
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = None
    data_root, split, out_dir = args.data_root, args.split, args.out_dir
    if args.config:
        from advcam_mm.apis.runner import load_config
        cfg = load_config(args.config)
        dataset = cfg.train_dataloader.dataset
        data_root = data_root or dataset.data_root
        split = split or osp.splitext(osp.basename(dataset.ann_file))[0]
        out_dir = out_dir or ir_label_dir_of(cfg)
    if not data_root or not out_dir:
        sys.exit('error: give --data-root and --out-dir, or --config')
    settings = ir_label_settings(cfg, conf_fg_thres=args.conf_fg_thres, conf_bg_thres=args.conf_bg_thres)
    split = split or 'train_aug'
    print(f"IR labels of '{split}' (conf_fg_thres {settings['conf_fg_thres']}, conf_bg_thres "
          f"{settings['conf_bg_thres']}, {args.num_workers} workers) -> {out_dir}", flush=True)
    result = make_ir_labels(args.cam_dir, data_root, out_dir, split=split, num_workers=args.num_workers,
                            **settings)
    print(f"wrote {result['written']}, skipped {result['skipped']} finished, {result['seconds']:.1f}s",
          flush=True)


if __name__ == '__main__':
    main()
