"""Pictures of the pipeline: per-image panels, the climbing animation's frames, the paper's Fig. 6.

* :func:`render_panel`: one image, the label maps of the chain (ground truth,
  pseudo masks, a segmentor's prediction) and, per class-map folder (CAM,
  AdvCAM), the heat map of every present class, the seed and the seed + CRF;
* :func:`climb_frame` / :func:`save_gif`: AdvCAM's accumulated map after each
  climbing step next to the manipulated image (as the authors' README animation);
* :func:`plot_figure6`: seed mIoU and the proportion of noise per iteration
  (Fig. 6a/b) and the sweeps of lambda, tau, xi (Fig. 6c-e).

Rendering only (matplotlib's Agg canvas, PIL; no display); every file is written atomically.
"""
import io
import math
import os.path as osp
from typing import Optional, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .core.advcam import PARAMETER_SYMBOLS, SWEPT_PARAMETERS
from .core.labels import IGNORE_INDEX
from .fileio.atomic import atomic_write
from .fileio.label_png import voc_palette

CELL_INCHES = 2.2  # one image of the grid, with its title
LEGEND_INCHES = 0.45  # the class legend below the grid
TITLE_INCHES = 0.28
DPI = 100
CAPTION_PIXELS = 22  # the text bar under each animation frame
DEFAULT_HEIGHT = 256  # animation frames are shown at this height (the image aspect is kept)


def heatmap_overlay(image_rgb: np.ndarray, heat: np.ndarray, alpha: float = 0.5,
                    colormap: str = 'jet') -> np.ndarray:
    """``(H, W, 3)`` uint8 image blended with a colour-mapped ``(H, W)`` map in [0, 1]."""
    from matplotlib import colormaps
    image_rgb = np.asarray(image_rgb)
    heat = np.asarray(heat, dtype=np.float64)
    if heat.shape != image_rgb.shape[:2]:
        raise ValueError(f'heat map of size {heat.shape} does not match the image {image_rgb.shape[:2]}')
    colours = colormaps[colormap](np.clip(np.nan_to_num(heat), 0.0, 1.0))[..., :3] * 255.0
    return np.clip(alpha * colours + (1 - alpha) * image_rgb, 0, 255).round().astype(np.uint8)


def colorize_labels(label: np.ndarray, palette=None) -> np.ndarray:
    """``(H, W)`` class ids -> ``(H, W, 3)`` uint8 colours: the dataset's ``palette`` for its classes,
    VOC's colour map for the rest (255, ignored, in VOC's void colour)."""
    colours = np.asarray(voc_palette(), dtype=np.uint8)
    if palette is not None:
        palette = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)[:256]
        colours[:len(palette)] = palette
    return colours[np.asarray(label).astype(np.int64)]


def panel_grid(num_map_classes: int, num_sources: int, num_labels: int = 2) -> tuple:
    """``(rows, cols)`` of a panel: a row of the image and ``num_labels`` label maps, one row per
    map folder with ``num_map_classes`` heat maps, a seed and a CRF seed."""
    return 1 + num_sources, max(1 + num_labels, num_map_classes + 2)


def panel_size(rows: int, cols: int, dpi: int = DPI) -> tuple:
    """``(width, height)`` in pixels of a panel of ``rows x cols`` cells."""
    return int(round(cols * CELL_INCHES * dpi)), int(round((rows * CELL_INCHES + LEGEND_INCHES) * dpi))


def class_name(class_names: Optional[Sequence[str]], label: int) -> str:
    if label == IGNORE_INDEX:
        return 'ignore'
    if class_names is not None and 0 <= label < len(class_names):
        return str(class_names[label])
    return 'background' if label == 0 else f'class {label}'


def render_panel(image_rgb: np.ndarray, sources: Sequence[dict], class_names: Optional[Sequence[str]] = None,
                 labels: Sequence[tuple] = (), image_id: str = '', palette=None, dpi: int = DPI) -> bytes:
    """The panel of one image as PNG bytes (size :func:`panel_size` of :func:`panel_grid`).

    Args:
        image_rgb: ``(H, W, 3)`` uint8.
        sources: one dict per map row: ``name``, ``keys`` (C,) 0-based,
            ``high_res`` (C, H, W), ``threshold``, ``seed`` (H, W) and
            optionally ``crf`` (H, W) (class ids).
        class_names: names, background first (for titles and legend).
        labels: ``(title, (H, W) class-id map)`` pairs shown after the image in the first
            row (ground truth, pseudo masks, a segmentor's prediction, ...).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    num_map_classes = max([len(s['keys']) for s in sources] + [0])
    rows, cols = panel_grid(num_map_classes, len(sources), len(labels))
    width_in, height_in = cols * CELL_INCHES, rows * CELL_INCHES + LEGEND_INCHES
    figure = Figure(figsize=(width_in, height_in), dpi=dpi)
    FigureCanvasAgg(figure)
    margin = 0.04

    def cell(row, col, picture, title):
        left = (col * CELL_INCHES + margin) / width_in
        bottom = (LEGEND_INCHES + (rows - 1 - row) * CELL_INCHES + margin) / height_in
        axis = figure.add_axes([left, bottom, (CELL_INCHES - 2 * margin) / width_in,
                                (CELL_INCHES - TITLE_INCHES - margin) / height_in])
        axis.imshow(picture, interpolation='nearest')
        axis.set_title(title, fontsize=8, pad=3)
        axis.set_axis_off()

    shown_labels = set()
    cell(0, 0, image_rgb, f'image {image_id}'.strip())
    col = 1
    for name, label_map in labels:
        cell(0, col, colorize_labels(label_map, palette), name)
        shown_labels.update(np.unique(label_map).tolist())
        col += 1
    for row, source in enumerate(sources, start=1):
        keys = np.asarray(source['keys'], dtype=np.int64)
        for index, key in enumerate(keys):
            cell(row, index, heatmap_overlay(image_rgb, source['high_res'][index]),
                 f"{source['name']}: {class_name(class_names, int(key) + 1)}")
            shown_labels.add(int(key) + 1)
        cell(row, cols - 2, colorize_labels(source['seed'], palette),
             f"{source['name']} seed (thr {source['threshold']:g})")
        shown_labels.update(np.unique(source['seed']).tolist())
        if source.get('crf') is not None:
            cell(row, cols - 1, colorize_labels(source['crf'], palette), f"{source['name']} seed + CRF")
            shown_labels.update(np.unique(source['crf']).tolist())
    colours = colorize_labels(np.arange(256), palette) / 255.0
    handles = [Patch(facecolor=colours[label], edgecolor='black', linewidth=0.5,
                     label=class_name(class_names, label)) for label in sorted(int(v) for v in shown_labels)]
    figure.legend(handles=handles, loc='lower center', ncol=max(1, min(len(handles), 2 * cols)), fontsize=8,
                  frameon=False, bbox_to_anchor=(0.5, 0.0), handlelength=1.2, columnspacing=1.0)
    buffer = io.BytesIO()
    figure.savefig(buffer, format='png', dpi=dpi)
    return buffer.getvalue()


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


def climb_frame(manipulated_rgb: np.ndarray, overlay_rgb: np.ndarray, caption: str, width: int,
                frame_height: int) -> Image.Image:
    """One animation frame: the manipulated image, the accumulated map over the image, a caption."""
    picture_size = (width // 2, frame_height - CAPTION_PIXELS)
    frame = Image.new('RGB', (width, frame_height), 'white')
    frame.paste(Image.fromarray(manipulated_rgb).resize(picture_size, Image.BILINEAR), (0, 0))
    frame.paste(Image.fromarray(overlay_rgb).resize(picture_size, Image.BILINEAR), (picture_size[0], 0))
    ImageDraw.Draw(frame).text((4, picture_size[1] + 3), caption, fill='black', font=_font())
    return frame


def save_png_bytes(path: str, data: bytes) -> None:
    with atomic_write(path) as f:
        f.write(data)


def sweep_members(settings: list, base: dict, parameter: str) -> list:
    """Indices of the settings that differ from ``base`` at most in ``parameter``, by its value."""
    members = [i for i, s in enumerate(settings)
               if all(math.isclose(s[k], base[k]) for k in SWEPT_PARAMETERS if k != parameter)]
    return sorted(members, key=lambda i: settings[i][parameter])


def save_figure(figure, path):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format='png', dpi=100)
    with atomic_write(path) as f:
        f.write(buffer.getvalue())


def plot_figure6(result: dict, out_dir: str, base: Optional[dict] = None) -> list:
    """``fig6ab.png`` (seed mIoU and noise per iteration, with and without regularisation,
    i.e. every lambda at the base tau and xi) and, where a list has several
    values, ``fig6cde.png`` (mIoU per iteration for each lambda, tau, xi). Returns the paths."""
    from matplotlib.figure import Figure
    settings = result['settings']
    base = settings[0] if base is None else base
    t = np.arange(1, result['steps'] + 1)
    paths = []

    def label(setting, parameter):
        text = f'{PARAMETER_SYMBOLS[parameter]} = {setting[parameter]:g}'
        if parameter == 'mask_coef' and setting[parameter] == 0:
            text += ' (no regularisation)'
        return text

    figure = Figure(figsize=(11, 4.2))
    miou_axis, noise_axis = figure.subplots(1, 2)
    for i in sweep_members(settings, base, 'mask_coef'):
        miou_axis.plot(t, 100 * result['miou'][i], marker='o', markersize=3, label=label(settings[i], 'mask_coef'))
        noise_axis.plot(t, 100 * result['noise'][i], marker='o', markersize=3, label=label(settings[i], 'mask_coef'))
    miou_axis.set(xlabel='adversarial iteration t (t = 1: CAM)', ylabel='seed mIoU (%)',
                  title='(a) seed mIoU (best background threshold)')
    noise_axis.set(xlabel='adversarial iteration t', ylabel='proportion of noise (%)',
                   title=f"(b) noise among pixels added since CAM (thr {result['noise_threshold']:g})")
    for axis in (miou_axis, noise_axis):
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.suptitle(f"AdvCAM per iteration, {result['num_images']} images "
                    f"({PARAMETER_SYMBOLS['mask_thresh']}={base['mask_thresh']:g}, "
                    f"{PARAMETER_SYMBOLS['step_size']}={base['step_size']:g})", fontsize=10)
    figure.tight_layout()
    paths.append(osp.join(out_dir, 'fig6ab.png'))
    save_figure(figure, paths[-1])

    swept = [p for p in SWEPT_PARAMETERS if len(sweep_members(settings, base, p)) > 1]
    if swept:
        figure = Figure(figsize=(4.6 * len(swept), 4.2))
        axes = np.atleast_1d(figure.subplots(1, len(swept)))
        for axis, parameter, letter in zip(axes, swept, 'cde'):
            for i in sweep_members(settings, base, parameter):
                axis.plot(t, 100 * result['miou'][i], marker='o', markersize=3, label=label(settings[i], parameter))
            axis.set(xlabel='adversarial iteration t', ylabel='seed mIoU (%)',
                     title=f'({letter}) varying {PARAMETER_SYMBOLS[parameter]} ({parameter})')
            axis.grid(alpha=0.3)
            axis.legend(fontsize=8)
        figure.tight_layout()
        paths.append(osp.join(out_dir, 'fig6cde.png'))
        save_figure(figure, paths[-1])
    return paths
