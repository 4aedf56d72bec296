"""The climbing animation: AdvCAM's accumulated map after each step of one climb, as a GIF.

As the authors' README animation: one image, one class, one scale. Frame t
(t = 1 ... steps) shows the manipulated image x^{t-1} the classifier looks at
in step t and the accumulated map ``A_t = R_0 + ... + R_{t-1}``
(max-normalised, jet) over the original image, with the class, t and the
class score y_c; t = 1 is the CAM. The climb is
:func:`advcam_mm.core.advcam.adv_climb` (``step_callback`` gives the
manipulated images, ``return_history`` the per-step maps), so any image file
works, in the dataset or not; the settings are the config's ``label_generation``::

    python tools/advcam_gif.py CONFIG CHECKPOINT --image PATH --class NAME --out anim.gif [--steps 27]
"""
import argparse
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..core.advcam import adv_climb
from ..core.cam import rescale_image
from ..core.image_tensor import normalise_image
from ..fileio.images import read_rgb
from ..visualization import DEFAULT_HEIGHT, climb_frame, frame_size, heatmap_overlay, save_gif
from .class_maps import label_generation_settings
from .models import build_cam_model
from .runner import load_config
from .settings import normalisation
from .training import resolve_checkpoint


def config_class_names(cfg) -> tuple:
    """Class names (background first) of the config's dataset metainfo, else VOC's."""
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        metainfo = (cfg.get(loader) or {}).get('dataset', {}).get('metainfo') or {}
        if metainfo.get('classes'):
            return tuple(metainfo['classes'])
    from ..datasets.voc_base import VOC_CLASSES
    return tuple(VOC_CLASSES)


def resolve_class(name: str, class_names: Sequence[str]) -> int:
    """0-based foreground index of class ``name`` (case-insensitive); a clear error otherwise."""
    lowered = [str(n).lower() for n in class_names]
    key = str(name).strip().lower()
    if key not in lowered or lowered.index(key) == 0:
        raise ValueError(f'unknown class {name!r}: expected one of {", ".join(class_names[1:])}')
    return lowered.index(key) - 1


def climb_frames(features_fn, weight: torch.Tensor, image_rgb: np.ndarray, class_id: int, mean, std,
                 steps: int = 27, scale: float = 1.0, step_size: float = 0.08, mask_thresh: float = 0.5,
                 mask_coef: float = 7.0, flip: bool = True, label: str = '', height: Optional[int] = DEFAULT_HEIGHT,
                 device='cpu') -> list:
    """One climb of ``class_id`` on ``image_rgb`` (uint8 (H, W, 3)) at ``scale``; ``steps`` RGB frames."""
    image_rgb = np.asarray(image_rgb)
    x = rescale_image(normalise_image(image_rgb, mean, std, device), scale)
    manipulated = []

    def keep_image(t, state):
        manipulated.append(state['images'][0, 0].detach().float().cpu())  # x^t, view 0 (unflipped)

    with torch.autocast(x.device.type, enabled=False):
        _, history = adv_climb(features_fn, weight, x, [class_id], steps, step_size, mask_thresh, mask_coef,
                               flip, return_history=True, step_callback=keep_image)
    accumulated = history['maps'][:, 0].float().cumsum(0)  # A_t, (steps, h', w')
    size = image_rgb.shape[:2]
    accumulated = F.interpolate(accumulated[:, None], size, mode='bilinear', align_corners=False)[:, 0]
    accumulated = accumulated / (accumulated.flatten(1).amax(1)[:, None, None] + 1e-5)
    scores = history['scores'][:, 0, 0, class_id].float().cpu()  # y_c of the unflipped view
    mean_t = torch.as_tensor(mean, dtype=torch.float32).view(3, 1, 1)
    std_t = torch.as_tensor(std, dtype=torch.float32).view(3, 1, 1)
    width, frame_height = frame_size(size, height)
    frames = []
    for t in range(steps):
        shown = (manipulated[t] * std_t + mean_t).clamp(0, 255).round().byte().permute(1, 2, 0).numpy()
        overlay = heatmap_overlay(image_rgb, accumulated[t].cpu().numpy())
        caption = f'{label}  t = {t + 1}/{steps}  score {scores[t]:.2f}'.strip()
        frames.append(climb_frame(shown, overlay, caption, width, frame_height))
    return frames


def make_climb_gif(model, image_path: str, class_name: str, out_path: str, class_names: Sequence[str],
                   mean, std, settings: dict, steps: Optional[int] = None, scale: float = 1.0,
                   height: Optional[int] = DEFAULT_HEIGHT, duration: int = 200, device='cpu') -> dict:
    """Climb ``class_name`` on the image file ``image_path`` with ``model``; write the GIF.

    Returns ``{'path', 'frames', 'size' (width, height), 'class_id'}``.
    """
    weight = model.cam_weight.detach()
    if weight.shape[0] != len(class_names) - 1:
        raise ValueError(f'the classifier has {weight.shape[0]} classes but {len(class_names) - 1} foreground '
                         f'class names are known ({", ".join(class_names[1:])})')
    class_id = resolve_class(class_name, class_names)
    steps = int(settings['steps'] if steps is None else steps)
    frames = climb_frames(model.cam_features, weight, read_rgb(image_path), class_id, mean, std, steps=steps,
                          scale=scale, step_size=settings['step_size'], mask_thresh=settings['mask_thresh'],
                          mask_coef=settings['mask_coef'], flip=settings['flip'],
                          label=f'AdvCAM {class_names[class_id + 1]}', height=height, device=device)
    save_gif(frames, out_path, duration=duration)
    return {'path': out_path, 'frames': len(frames), 'size': frames[0].size, 'class_id': class_id}


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description='GIF of the accumulated AdvCAM map over one climb')
    parser.add_argument('config', help='classifier config')
    parser.add_argument('checkpoint', help='classifier checkpoint, or its finished training work dir')
    parser.add_argument('--image', required=True, help='any RGB image file')
    parser.add_argument('--class', dest='class_name', required=True, help="class name (the config's classes)")
    parser.add_argument('--out', required=True, help='output .gif')
    parser.add_argument('--steps', type=int, help="climbing steps = frames (default: the config's)")
    parser.add_argument('--scale', type=float, default=1.0, help='image scale to climb at')
    parser.add_argument('--height', type=int, default=DEFAULT_HEIGHT, help='frame picture height in pixels')
    parser.add_argument('--duration', type=int, default=200, help='milliseconds per frame')
    parser.add_argument('--device', default=None, help='default: cuda if available, else cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    settings = label_generation_settings(cfg, method='advcam')
    model = build_cam_model(cfg, resolve_checkpoint(args.checkpoint), device)
    mean, std = normalisation(cfg)
    result = make_climb_gif(model, args.image, args.class_name, args.out, config_class_names(cfg), mean, std,
                            settings, steps=args.steps, scale=args.scale, height=args.height,
                            duration=args.duration, device=device)
    width, height = result['size']
    print(f"wrote {result['path']}: {result['frames']} frames of {width}x{height}")


if __name__ == '__main__':
    main()
