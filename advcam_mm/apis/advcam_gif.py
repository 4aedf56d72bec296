"""The climbing animation: AdvCAM's accumulated map after each step of one climb, as a GIF.

As the authors' README animation: one image, one class, one scale. Frame t
(t = 1 ... steps) shows, side by side, the manipulated image x^{t-1} the
classifier looks at in step t and the accumulated map ``A_t = R_0 + ... +
R_{t-1}`` (max-normalised, jet) over the original image, with the class,
t and the class score y_c. ``t = 1`` is the CAM of the unmodified image. The
climb is :func:`advcam_mm.core.advcam.adv_climb` (its ``step_callback``
gives the manipulated images, ``return_history`` the per-step maps), so any
image file works, in the dataset or not.
"""
import io
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont

from ..core.advcam import adv_climb
from ..core.cam import rescale_image
from ..fileio.atomic import atomic_write
from .make_cams import normalise_image, read_rgb
from .visualize import heatmap_overlay

CAPTION_PIXELS = 22  # the text bar under each frame
DEFAULT_HEIGHT = 256  # frames are shown at this height (the image aspect is kept)


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


def frame_size(image_size: Sequence[int], height: Optional[int] = DEFAULT_HEIGHT) -> tuple:
    """``(width, height)`` in pixels of a frame for an image of ``(H, W)``: two pictures and a caption."""
    image_height, image_width = image_size
    height = image_height if height is None else int(height)
    width = max(1, int(round(image_width * height / image_height)))
    return 2 * width, height + CAPTION_PIXELS


def _font(size=14):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: a fixed bitmap font
        return ImageFont.load_default()


def climb_frames(features_fn, weight: torch.Tensor, image_rgb: np.ndarray, class_id: int, mean, std,
                 steps: int = 27, scale: float = 1.0, step_size: float = 0.08, mask_thresh: float = 0.5,
                 mask_coef: float = 7.0, flip: bool = True, label: str = '', height: Optional[int] = DEFAULT_HEIGHT,
                 device='cpu') -> list:
    """One climb of ``class_id`` on ``image_rgb`` (uint8 (H, W, 3)) at ``scale``; ``steps`` RGB frames."""
    image_rgb = np.asarray(image_rgb)
    image = normalise_image(image_rgb, mean, std, device)
    x = rescale_image(image, scale)
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
    picture_size = (width // 2, frame_height - CAPTION_PIXELS)
    font = _font()
    frames = []
    for t in range(steps):
        shown = (manipulated[t] * std_t + mean_t).clamp(0, 255).round().byte().permute(1, 2, 0).numpy()
        overlay = heatmap_overlay(image_rgb, accumulated[t].cpu().numpy())
        frame = Image.new('RGB', (width, frame_height), 'white')
        frame.paste(Image.fromarray(shown).resize(picture_size, Image.BILINEAR), (0, 0))
        frame.paste(Image.fromarray(overlay).resize(picture_size, Image.BILINEAR), (picture_size[0], 0))
        caption = f'{label}  t = {t + 1}/{steps}  score {scores[t]:.2f}'.strip()
        ImageDraw.Draw(frame).text((4, picture_size[1] + 3), caption, fill='black', font=font)
        frames.append(frame)
    return frames


def save_gif(frames: Sequence[Image.Image], path: str, duration: int = 200, last_duration: int = 1500) -> None:
    """Write an endlessly looping GIF atomically (the last frame held longer)."""
    if not frames:
        raise ValueError(f'{path}: no frames to write')
    durations = [duration] * (len(frames) - 1) + [last_duration]
    buffer = io.BytesIO()
    frames[0].save(buffer, format='GIF', save_all=True, append_images=list(frames[1:]), duration=durations,
                   loop=0)
    with atomic_write(path) as f:
        f.write(buffer.getvalue())


def make_climb_gif(model, image_path: str, class_name: str, out_path: str, class_names: Sequence[str],
                   mean, std, settings: dict, steps: Optional[int] = None, scale: float = 1.0,
                   height: Optional[int] = DEFAULT_HEIGHT, duration: int = 200, device='cpu') -> dict:
    """Climb ``class_name`` on the image file ``image_path`` with ``model``; write the GIF.

    ``settings`` holds ``step_size``, ``mask_thresh``, ``mask_coef``, ``flip``
    and ``steps`` (``label_generation``); ``steps`` overrides the latter.
    Returns ``{'path', 'frames', 'size' (width, height), 'class_id'}``.
    """
    weight = model.cam_weight.detach()
    if weight.shape[0] != len(class_names) - 1:
        raise ValueError(f'the classifier has {weight.shape[0]} classes but {len(class_names) - 1} foreground '
                         f'class names are known ({", ".join(class_names[1:])})')
    class_id = resolve_class(class_name, class_names)
    steps = int(settings['steps'] if steps is None else steps)
    image_rgb = read_rgb(image_path)
    frames = climb_frames(model.cam_features, weight, image_rgb, class_id, mean, std, steps=steps, scale=scale,
                          step_size=settings['step_size'], mask_thresh=settings['mask_thresh'],
                          mask_coef=settings['mask_coef'], flip=settings['flip'],
                          label=f'AdvCAM {class_names[class_id + 1]}', height=height, device=device)
    save_gif(frames, out_path, duration=duration)
    return {'path': out_path, 'frames': len(frames), 'size': frames[0].size, 'class_id': class_id}
