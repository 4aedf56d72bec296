"""Inter-pixel relation labels for a split: CRF on every image, in worker processes, resumable.

IRN's ``step/cam_to_ir_label.py`` over the class-map files of
``tools/make_cams.py``: one label PNG per image (:mod:`advcam_mm.fileio.label_png`,
0 = confident background, class id = confident foreground, 255 = unsure),
written atomically; an image whose PNG exists is skipped, so a killed run
resumes. The dense CRF dominates the cost, so images run in parallel worker
processes (one thread each). IRNet trains on the folder
(``configs/_base_/datasets/voc_irn.py``: the segmentation dataset's ``mask_dir``).
"""
import functools
import os
import time

from ..core.ir_label import CONF_BG_THRES, CONF_FG_THRES, inter_pixel_relation_label
from ..fileio.cam_files import cam_file_path, load_cam_file
from ..fileio.label_png import label_png_path, remove_stale_temp_files, save_label_png
from .eval_seeds import check_files_exist, map_images, read_image_ids
from .make_cams import read_rgb
from .runner import settings_from_config

#: AdvCAM's thresholds (``run_sample.py``); a config's ``ir_labels`` dict overrides them
#: (IRN's own are ``conf_fg_thres=0.30, conf_bg_thres=0.05``).
DEFAULT_IR_LABELS = dict(conf_fg_thres=CONF_FG_THRES, conf_bg_thres=CONF_BG_THRES)


def ir_label_settings(cfg=None, **overrides) -> dict:
    """Defaults, then the config's ``ir_labels`` dict, then explicit (non-None) overrides."""
    return settings_from_config(cfg, 'ir_labels', DEFAULT_IR_LABELS, **overrides)


def ir_label_dir_of(cfg) -> str:
    """The IR-label folder that ``cfg``'s IRNet training reads (``train_dataloader.dataset``).

    Resolved as the dataset resolves it: a relative ``mask_dir`` is joined to ``data_root``.
    """
    dataset = cfg.train_dataloader.dataset
    mask_dir = dataset.get('mask_dir') or dict(dataset.get('data_prefix', {})).get('seg_map_path')
    if not mask_dir:
        raise ValueError('the config\'s train_dataloader.dataset names no mask_dir (the IR-label folder)')
    data_root = dataset.get('data_root') or ''
    return os.path.normpath(mask_dir if os.path.isabs(mask_dir) else os.path.join(data_root, mask_dir))


def _ir_label_of_image(image_id, cam_dir, image_dir, out_dir, conf_fg_thres, conf_bg_thres):
    cam_path = cam_file_path(cam_dir, image_id)
    image_path = os.path.join(image_dir, f'{image_id}.jpg')
    maps = load_cam_file(cam_path)
    image = read_rgb(image_path)
    if maps['high_res'].shape[1:] != image.shape[:2]:
        raise ValueError(f'{cam_path}: maps of size {maps["high_res"].shape[1:]} but image {image_path} '
                         f'is {image.shape[:2]}')
    label = inter_pixel_relation_label(image, maps['high_res'], maps['keys'], conf_fg_thres, conf_bg_thres)
    save_label_png(label_png_path(out_dir, image_id), label)
    return image_id


def make_ir_labels(cam_dir, data_root, out_dir, split='train_aug', conf_fg_thres=CONF_FG_THRES,
                   conf_bg_thres=CONF_BG_THRES, num_workers=2, image_dir='JPEGImages',
                   start_method=None, progress=True) -> dict:
    """Write ``<out_dir>/<id>.png`` IR labels for the ids of ``split`` that lack one.

    Args:
        cam_dir: folder of ``<id>.npy`` class-map files (``high_res`` and ``keys`` are used).
        data_root: the ``VOC2012`` folder (split list and images).
        out_dir: label folder (created).
        split: ``ImageSets/Segmentation/<split>.txt`` or a list file path.
        conf_fg_thres, conf_bg_thres: background scores of the confident
            foreground / background seeds (AdvCAM's 0.35 / 0.15).
        num_workers: worker processes (0 or 1: in this process).
        image_dir: image folder under ``data_root``.
        start_method: ``'fork'`` (default where available) or ``'spawn'``.
        progress: print a progress bar (images/s, ETA).

    Returns:
        ``{'written': n, 'skipped': n, 'seconds': t, 'out_dir': out_dir}``.
    """
    image_ids = read_image_ids(data_root, split)
    todo = [i for i in image_ids if not os.path.exists(label_png_path(out_dir, i))]
    os.makedirs(out_dir, exist_ok=True)
    remove_stale_temp_files(out_dir, [label_png_path(out_dir, i) for i in todo])
    image_dir = os.path.join(data_root, image_dir)
    check_files_exist(todo, cam_dir, cam_file_path, 'class-map file', ' (run tools/make_cams.py first)')
    check_files_exist(todo, image_dir, lambda d, i: os.path.join(d, f'{i}.jpg'), 'image')
    start = time.perf_counter()
    work = functools.partial(_ir_label_of_image, cam_dir=cam_dir, image_dir=image_dir, out_dir=out_dir,
                             conf_fg_thres=conf_fg_thres, conf_bg_thres=conf_bg_thres)
    written = sum(1 for _ in map_images(work, todo, num_workers, start_method, progress)) if todo else 0
    return {'written': written, 'skipped': len(image_ids) - len(todo),
            'seconds': time.perf_counter() - start, 'out_dir': out_dir}
