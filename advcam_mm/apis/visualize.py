"""Per-image panels of class maps: heat maps per present class, seeds, seeds + CRF, masks.

One PNG per image (matplotlib, Agg canvas, no display needed):

* row 1: the image, its ground truth and its pseudo mask (when they exist);
* one row per class-map folder (e.g. CAM, then AdvCAM): the heat map of each
  present class over the image (jet, the max-normalised ``high_res`` map of
  the class-map file), the seed ``argmax([threshold, maps])`` and the seed
  refined by IRN's dense CRF (:func:`advcam_mm.core.seeds.seed_with_crf`);
* a legend naming the classes that appear, in VOC's palette.

Any folder of class-map files (:mod:`advcam_mm.fileio.cam_files`) can fill a
row: CAM, AdvCAM, or anything else written in that format.
"""
import io
import os
import os.path as osp
from typing import Optional, Sequence

import numpy as np

from ..core.seeds import seed_with_crf, seeds_from_maps
from ..fileio.atomic import atomic_write
from ..fileio.cam_files import cam_file_path, load_cam_file
from ..fileio.label_png import load_label_png, voc_png_palette
from .eval_seeds import read_image_ids

CELL_INCHES = 2.2  # one image of the grid, with its title
LEGEND_INCHES = 0.45  # the class legend below the grid
TITLE_INCHES = 0.28
DPI = 100
IGNORE_INDEX = 255
DEFAULT_SEED_THRESHOLD = 0.15  # IRN's cam_eval_thres; eval_seeds finds the best one


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
    """``(H, W)`` class ids -> ``(H, W, 3)`` uint8 colours (VOC's palette, 255 its void colour)."""
    palette = np.asarray(voc_png_palette() if palette is None else palette, dtype=np.uint8).reshape(-1, 3)
    if len(palette) < 256:
        palette = np.concatenate([palette, np.zeros((256 - len(palette), 3), np.uint8)])
    return palette[np.asarray(label).astype(np.int64)]


def panel_grid(num_map_classes: int, num_sources: int) -> tuple:
    """``(rows, cols)`` of a panel: a row of image and masks, one row per map folder with
    ``num_map_classes`` heat maps, a seed and a CRF seed."""
    return 1 + num_sources, max(3, num_map_classes + 2)


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
                 gt: Optional[np.ndarray] = None, pseudo: Optional[np.ndarray] = None, image_id: str = '',
                 palette=None, dpi: int = DPI) -> bytes:
    """The panel of one image as PNG bytes (size :func:`panel_size` of :func:`panel_grid`).

    Args:
        image_rgb: ``(H, W, 3)`` uint8.
        sources: one dict per map row: ``name``, ``keys`` (C,) 0-based,
            ``high_res`` (C, H, W), ``threshold``, ``seed`` (H, W) and
            optionally ``crf`` (H, W) (class ids).
        class_names: names, background first (for titles and legend).
        gt, pseudo: ``(H, W)`` class-id maps, or None to leave out.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    num_map_classes = max([len(s['keys']) for s in sources] + [0])
    rows, cols = panel_grid(num_map_classes, len(sources))
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
    for name, label_map in (('ground truth', gt), ('pseudo mask', pseudo)):
        if label_map is not None:
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


def parse_seed_thresholds(spec) -> list:
    """Seed thresholds from ``'0.13'``, ``'0.13,0.2'`` or results files of ``tools/eval_seeds.py
    --out-json`` (their ``best_threshold``), e.g. ``'cam_seeds.json,advcam_seeds.json'``."""
    import json
    values = []
    for item in (spec.split(',') if isinstance(spec, str) else np.atleast_1d(spec)):
        item = item.strip() if isinstance(item, str) else item
        if isinstance(item, str) and item.endswith('.json'):
            if not osp.isfile(item):
                raise FileNotFoundError(f'{item}: seed results file not found (tools/eval_seeds.py --out-json)')
            with open(item) as f:
                result = json.load(f)
            if not isinstance(result, dict) or 'best_threshold' not in result:
                raise ValueError(f'{item}: no best_threshold in this file (expected tools/eval_seeds.py --out-json)')
            values.append(float(result['best_threshold']))
        elif item != '':
            try:
                values.append(float(item))
            except ValueError:
                raise ValueError(f'bad seed threshold {item!r}: expected a number or an eval_seeds .json') from None
    if not values:
        raise ValueError(f'bad seed threshold {spec!r}: no value')
    return values


def default_class_names(data_root: str, classes: Optional[str] = None):
    """Class names of ``'voc'`` or ``'embedded'``; ``None``: the embedded ones when ``data_root``
    holds the embedded dataset's manifest, else VOC's."""
    from .eval_seeds import dataset_class_names
    if classes is None:
        from ..datasets.embedded_dataset import MANIFEST_NAME
        classes = 'embedded' if osp.isfile(osp.join(data_root, MANIFEST_NAME)) else 'voc'
    return dataset_class_names(classes)


def select_image_ids(cam_dir: str, data_root: str, ids: Optional[Sequence[str]] = None,
                     num: Optional[int] = None, split: str = 'train') -> list:
    """``ids`` as given (each must have a class-map file), or the first ``num`` ids of the split
    that have one in ``cam_dir``."""
    if ids:
        missing = [cam_file_path(cam_dir, i) for i in ids if not osp.isfile(cam_file_path(cam_dir, i))]
        if missing:
            raise FileNotFoundError(f'{missing[0]}: class-map file not found (run tools/make_cams.py first)')
        return list(ids)
    available = [i for i in read_image_ids(data_root, split) if osp.isfile(cam_file_path(cam_dir, i))]
    if not available:
        raise FileNotFoundError(f'{cam_dir}: no class-map file of an image of split {split!r} '
                                f'(run tools/make_cams.py first)')
    return available if num is None else available[:num]


def _read_rgb(path):
    from PIL import Image
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: image not found')
    with Image.open(path) as image:
        return np.asarray(image.convert('RGB'))


def _find_mask(folders, image_id):
    for folder in folders:
        if folder:
            path = osp.join(folder, f'{image_id}.png')
            if osp.isfile(path):
                return load_label_png(path, 'label map')
    return None


def visualize_cams(cam_dir: str, data_root: str, out_dir: str, ids: Optional[Sequence[str]] = None,
                   num: Optional[int] = 8, split: str = 'train', advcam_dir: Optional[str] = None,
                   seed_threshold=DEFAULT_SEED_THRESHOLD, pseudo_dir: Optional[str] = None,
                   class_names: Optional[Sequence[str]] = None, mask_dir: Optional[str] = None,
                   crf: bool = True, cam_name: str = 'CAM', advcam_name: str = 'AdvCAM',
                   image_dir: str = 'JPEGImages', dpi: int = DPI) -> list:
    """Write ``<out_dir>/<image_id>.png`` panels; return their paths.

    Args:
        cam_dir: class-map folder of the first map row (named ``cam_name``);
            any class-map folder, CAM or AdvCAM.
        advcam_dir: optional second map folder (named ``advcam_name``).
        seed_threshold: background threshold of the seeds, one value or one
            per map folder (e.g. each one's best from ``tools/eval_seeds.py``;
            see :func:`parse_seed_thresholds`).
        ids, num, split: the images (see :func:`select_image_ids`).
        pseudo_dir: folder of pseudo-mask PNGs, shown where a file exists.
        mask_dir: ground-truth folder under ``data_root``; default
            ``SegmentationClass``, then ``SegmentationClassAug``; shown where
            a file exists.
        crf: also show the CRF-refined seeds.
    """
    folders = [(cam_name, cam_dir)] + ([(advcam_name, advcam_dir)] if advcam_dir else [])
    thresholds = parse_seed_thresholds(seed_threshold)
    if len(thresholds) == 1:
        thresholds = thresholds * len(folders)
    if len(thresholds) != len(folders):
        raise ValueError(f'{len(thresholds)} seed thresholds given for {len(folders)} class-map folders')
    image_ids = select_image_ids(cam_dir, data_root, ids, num, split)
    gt_folders = ([osp.join(data_root, mask_dir)] if mask_dir else
                  [osp.join(data_root, 'SegmentationClass'), osp.join(data_root, 'SegmentationClassAug')])
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for image_id in image_ids:
        image_path = osp.join(data_root, image_dir, f'{image_id}.jpg')
        rgb = _read_rgb(image_path)
        sources = []
        for (name, folder), threshold in zip(folders, thresholds):
            path = cam_file_path(folder, image_id)
            maps = load_cam_file(path)
            if maps['high_res'].shape[1:] != rgb.shape[:2]:
                raise ValueError(f'{path}: maps of size {maps["high_res"].shape[1:]} but image {image_path} '
                                 f'is {rgb.shape[:2]}')
            source = dict(name=name, keys=maps['keys'], high_res=maps['high_res'], threshold=threshold,
                          seed=seeds_from_maps(maps['high_res'], maps['keys'], threshold))
            if crf:
                source['crf'] = seed_with_crf(rgb, maps['high_res'], maps['keys'], threshold)
            sources.append(source)
        gt = _find_mask(gt_folders, image_id)
        pseudo = _find_mask([pseudo_dir], image_id) if pseudo_dir else None
        for what, label_map in (('ground truth', gt), ('pseudo mask', pseudo)):
            if label_map is not None and label_map.shape != rgb.shape[:2]:
                raise ValueError(f'{image_id}: {what} is {label_map.shape} but image {image_path} '
                                 f'is {rgb.shape[:2]}')
        png = render_panel(rgb, sources, class_names, gt=gt, pseudo=pseudo, image_id=image_id, dpi=dpi)
        out_path = osp.join(out_dir, f'{image_id}.png')
        with atomic_write(out_path) as f:
            f.write(png)
        paths.append(out_path)
    return paths
