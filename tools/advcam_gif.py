"""Animate one AdvCAM climb: the accumulated map after each step, as a looping GIF.

    python tools/advcam_gif.py CONFIG CHECKPOINT --image PATH --class NAME --out anim.gif \
        [--steps 27] [--scale 1.0] [--height 256] [--mask-coef 7]

Any image file works (in the dataset or not). The class name is one of the
config's ``metainfo.classes`` (VOC's when the config has none). Each frame
shows the manipulated image and the accumulated map over the original image;
the climbing settings are the config's ``label_generation`` (lambda, tau, xi, flip).
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))

import torch  # noqa: E402
from mmengine.config import DictAction  # noqa: E402

import advcam_mm  # noqa: E402,F401
from advcam_mm.apis.advcam_gif import DEFAULT_HEIGHT, config_class_names, make_climb_gif  # noqa: E402
from advcam_mm.apis.make_cams import build_cam_model, label_generation_settings  # noqa: E402
from advcam_mm.apis.runner import load_config  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description='GIF of the accumulated AdvCAM map over one climb')
    parser.add_argument('config', help='classifier config')
    parser.add_argument('checkpoint', help='classifier checkpoint')
    parser.add_argument('--image', required=True, help='any RGB image file')
    parser.add_argument('--class', dest='class_name', required=True, help="class name (the config's classes)")
    parser.add_argument('--out', required=True, help='output .gif')
    parser.add_argument('--steps', type=int, help="climbing steps = frames (default: the config's, 27)")
    parser.add_argument('--scale', type=float, default=1.0, help='image scale to climb at')
    parser.add_argument('--mask-coef', type=float, help="lambda (default: the config's, 7)")
    parser.add_argument('--height', type=int, default=DEFAULT_HEIGHT, help='frame picture height in pixels')
    parser.add_argument('--duration', type=int, default=200, help='milliseconds per frame')
    parser.add_argument('--device', default=None, help='default: cuda if available, else cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options)
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    settings = label_generation_settings(cfg, method='advcam', steps=args.steps, mask_coef=args.mask_coef)
    model = build_cam_model(cfg, args.checkpoint, device)
    preprocessor = cfg.model.data_preprocessor
    result = make_climb_gif(model, args.image, args.class_name, args.out, config_class_names(cfg),
                            preprocessor['mean'], preprocessor['std'], settings, scale=args.scale,
                            height=args.height, duration=args.duration, device=device)
    width, height = result['size']
    print(f"wrote {result['path']}: {result['frames']} frames of {width}x{height}")


if __name__ == '__main__':
    main()
