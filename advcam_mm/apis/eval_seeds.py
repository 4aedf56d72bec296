"""Seed evaluation: mIoU of ``argmax([bg_threshold, maps])`` against ground truth.

The paper's "Seed" column is the best mIoU over a sweep of background
thresholds (IRN / AdvCAM ``step/eval_cam.py``, one threshold per run there; here
the whole sweep in one pass over the files). The "+CRF" column refines the seeds
at one threshold with IRN's dense CRF (``step/cam_to_ir_label.py``), which is
expensive, so it runs only at the best threshold of the sweep (or a given one).
Images are processed in worker processes; confusion matrices are summed.
"""
import functools
import multiprocessing
import os
import sys
import time

import numpy as np
from PIL import Image

from advcam_mm.core.miou import (IGNORE_INDEX, confusion_matrix, iou_from_confusion,
                                 mean_iou, threshold_sweep_confusions)
from advcam_mm.core.seeds import max_foreground, seed_with_crf
from advcam_mm.datasets.cls_labels import read_split_file
from advcam_mm.fileio import cam_file_path, load_cam_file

DEFAULT_THRESHOLDS = '0.05:0.60:0.01'


def parse_thresholds(spec):
    """Thresholds from ``'start:stop:step'`` (stop included), ``'a,b,c'``, ``'a'`` or numbers.

    ``'0.05:0.60:0.01'`` gives the 56 values 0.05, 0.06, ..., 0.60 (rounded to
    10 decimals, so they print as written).
    """
    if isinstance(spec, str):
        text = spec.strip()
        try:
            if ':' in text:
                parts = [float(p) for p in text.split(':')]
                if len(parts) != 3:
                    raise ValueError
                start, stop, step = parts
                if step <= 0 or stop < start:
                    raise ValueError(f'threshold range {spec!r} needs step > 0 and stop >= start')
                values = np.arange(start, stop + step / 2, step)
            else:
                values = np.array([float(p) for p in text.split(',') if p.strip()])
        except ValueError as error:
            detail = f' ({error})' if str(error) else ''
            raise ValueError(f'bad threshold spec {spec!r}: expected "start:stop:step", '
                             f'"a,b,c" or a number{detail}') from None
    else:
        values = np.asarray(spec, dtype=np.float64).reshape(-1)
    if values.size == 0 or not np.all(np.isfinite(values)):
        raise ValueError(f'bad threshold spec {spec!r}: no thresholds or non-finite values')
    return np.round(values.astype(np.float64), 10)


def resolve_classes(class_names=None, num_classes=None):
    """``(class_names or None, num_classes or None)``, consistent: names fix the count."""
    if class_names is None:
        return None, num_classes
    class_names = list(class_names)
    if num_classes is not None and num_classes != len(class_names):
        raise ValueError(f'num_classes={num_classes} but {len(class_names)} class names given')
    return class_names, len(class_names)


def read_image_ids(data_root, split):
    """Image ids of ``<data_root>/ImageSets/Segmentation/<split>.txt`` (or of a list file path)."""
    path = split if split.endswith('.txt') and os.path.isfile(split) else os.path.join(
        data_root, 'ImageSets', 'Segmentation', f'{split}.txt')
    ids = read_split_file(path)
    if not ids:
        raise ValueError(f'{path}: split list is empty')
    return ids


def _read_ground_truth(path):
    with Image.open(path) as image:
        gt = np.asarray(image)
    if gt.ndim != 2:
        raise ValueError(f'{path}: ground truth must be a single-channel class-index PNG, '
                         f'got shape {gt.shape}')
    return gt


def _load_pair(image_id, cam_dir, gt_dir):
    cam_path = cam_file_path(cam_dir, image_id)
    gt_path = os.path.join(gt_dir, f'{image_id}.png')
    maps = load_cam_file(cam_path)
    gt = _read_ground_truth(gt_path)
    if maps['high_res'].shape[1:] != gt.shape:
        raise ValueError(f'{cam_path}: maps of size {maps["high_res"].shape[1:]} but ground truth '
                         f'{gt_path} is {gt.shape}')
    return maps, gt, cam_path, gt_path


def _image_num_classes(maps, gt, num_classes, cam_path, gt_path):
    """Classes needed by this image; checked against ``num_classes`` when that is known."""
    valid = gt[gt != IGNORE_INDEX]
    largest_gt = int(valid.max()) if valid.size else 0
    largest_key = int(maps['keys'].max()) + 1 if len(maps['keys']) else 0
    if num_classes is None:
        return max(largest_gt, largest_key) + 1
    if largest_gt >= num_classes:
        raise ValueError(f'{gt_path}: label {largest_gt} outside the {num_classes} classes')
    if largest_key >= num_classes:
        raise ValueError(f'{cam_path}: class id {largest_key - 1} (0-based foreground) outside '
                         f'the {num_classes - 1} foreground classes')
    return num_classes


def _sweep_image(image_id, cam_dir, gt_dir, thresholds, num_classes):
    """Confusion matrices ``(T, n, n)`` of one image's seeds at every threshold."""
    maps, gt, cam_path, gt_path = _load_pair(image_id, cam_dir, gt_dir)
    n = _image_num_classes(maps, gt, num_classes, cam_path, gt_path)
    fg_score, fg_label = max_foreground(maps['high_res'], maps['keys'])
    return threshold_sweep_confusions(fg_score, fg_label, gt, thresholds, n)


def _crf_image(image_id, cam_dir, gt_dir, image_dir, threshold, num_classes):
    """Confusion matrix ``(n, n)`` of one image's CRF-refined seeds."""
    maps, gt, cam_path, gt_path = _load_pair(image_id, cam_dir, gt_dir)
    n = _image_num_classes(maps, gt, num_classes, cam_path, gt_path)
    image_path = os.path.join(image_dir, f'{image_id}.jpg')
    with Image.open(image_path) as image:
        rgb = np.asarray(image.convert('RGB'))
    if rgb.shape[:2] != gt.shape:
        raise ValueError(f'{image_path}: image is {rgb.shape[:2]} but ground truth {gt_path} is {gt.shape}')
    seeds = seed_with_crf(rgb, maps['high_res'], maps['keys'], threshold)
    return confusion_matrix(seeds, gt, n)


def add_grown(total, counts):
    """``total + counts`` over the last two (class) axes, growing either to the larger size."""
    if total is None:
        return counts.copy()
    size = max(total.shape[-1], counts.shape[-1])

    def grow(array):
        pad = size - array.shape[-1]
        if pad == 0:
            return array
        return np.pad(array, [(0, 0)] * (array.ndim - 2) + [(0, pad), (0, pad)])

    return grow(total) + grow(counts)


def _init_worker():
    os.environ['OMP_WAIT_POLICY'] = 'PASSIVE'
    if 'torch' in sys.modules:
        sys.modules['torch'].set_num_threads(1)


def map_images(function, image_ids, num_workers, start_method, progress):
    """Yield ``function(image_id)`` for every id (any order), in workers when ``num_workers > 1``."""
    bar = None
    if progress:
        from mmengine.utils import ProgressBar  # apis may use mmengine; core may not
        bar = ProgressBar(len(image_ids))
    if num_workers <= 1:
        results = map(function, image_ids)
        pool = None
    else:
        os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
        if start_method is None:
            start_method = 'fork' if 'fork' in multiprocessing.get_all_start_methods() else 'spawn'
        context = multiprocessing.get_context(start_method)
        pool = context.Pool(num_workers, initializer=_init_worker)
        chunksize = max(1, min(16, len(image_ids) // (8 * num_workers)))
        results = pool.imap_unordered(function, image_ids, chunksize=chunksize)
    try:
        for result in results:
            if bar is not None:
                bar.update()
            yield result
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
        if bar is not None:
            bar.file.write('\n')
            bar.file.flush()


def check_files_exist(image_ids, folder, path_of, what, hint=''):
    """Fail before any work when a file is missing, naming the first and counting the rest."""
    missing = [path_of(folder, i) for i in image_ids if not os.path.isfile(path_of(folder, i))]
    if missing:
        more = f' (and {len(missing) - 1} more)' if len(missing) > 1 else ''
        raise FileNotFoundError(f'{missing[0]}: {what} not found{more}{hint}')


def evaluate_seeds(cam_dir, data_root, split='train', mask_dir='SegmentationClass',
                   thresholds=DEFAULT_THRESHOLDS, crf=False, crf_threshold=None,
                   num_workers=2, class_names=None, num_classes=None,
                   image_dir='JPEGImages', start_method=None, progress=True):
    """Seed mIoU of a folder of class-map files over a background-threshold sweep.

    Args:
        cam_dir: folder of ``<image_id>.npy`` class-map files (:mod:`advcam_mm.fileio.cam_files`).
        data_root: the ``VOC2012`` folder (split lists, masks and images).
        split: split name (``ImageSets/Segmentation/<split>.txt``) or a list file path.
        mask_dir: ground-truth folder under ``data_root`` (uint8 class ids, 255 ignored).
        thresholds: background thresholds, as :func:`parse_thresholds` accepts.
        crf: also evaluate the seeds refined by IRN's dense CRF ("+CRF").
        crf_threshold: threshold for the CRF seeds; default the sweep's best.
        num_workers: worker processes (0 or 1: in this process).
        class_names: names including background; fixes the number of classes.
        num_classes: number of classes including background if no names are
            given; if neither is, it is the largest label found plus one.
        image_dir: image folder under ``data_root`` (for the CRF).
        start_method: ``'fork'`` (default where available) or ``'spawn'``.
        progress: print a progress bar with images/s and ETA.

    Returns:
        dict with ``best_threshold``, ``miou`` (at that threshold), ``iou``
        (per class there), ``class_names``, ``thresholds`` and ``miou_curve``
        (the sweep), ``num_images``, ``seconds``; with ``crf`` also
        ``crf_threshold``, ``crf_miou``, ``crf_iou``. IoUs are fractions, NaN
        for a class absent from both ground truth and seeds.
    """
    thresholds = parse_thresholds(thresholds)
    class_names, num_classes = resolve_classes(class_names, num_classes)
    image_ids = read_image_ids(data_root, split)
    gt_dir = os.path.join(data_root, mask_dir)
    check_files_exist(image_ids, cam_dir, cam_file_path, 'class-map file',
                       ' (run tools/make_cams.py first)')
    check_files_exist(image_ids, gt_dir, lambda d, i: os.path.join(d, f'{i}.png'),
                       'ground-truth mask')
    if crf:
        check_files_exist(image_ids, os.path.join(data_root, image_dir),
                           lambda d, i: os.path.join(d, f'{i}.jpg'), 'image')

    start = time.perf_counter()
    sweep = functools.partial(_sweep_image, cam_dir=cam_dir, gt_dir=gt_dir,
                              thresholds=thresholds, num_classes=num_classes)
    total = None
    for counts in map_images(sweep, image_ids, num_workers, start_method, progress):
        total = add_grown(total, counts)
    if num_classes is not None:
        total = add_grown(total, np.zeros((len(thresholds), num_classes, num_classes), np.int64))
    seconds = {'seed': time.perf_counter() - start}
    if class_names is None:
        class_names = ['background'] + [f'class_{i}' for i in range(1, total.shape[-1])]

    curve = mean_iou(total)
    if np.all(np.isnan(curve)):
        raise ValueError(f'no labelled ground-truth pixel in split {split!r} of {data_root}')
    best = int(np.nanargmax(curve))
    result = {
        'best_threshold': float(thresholds[best]),
        'miou': float(curve[best]),
        'iou': [float(v) for v in iou_from_confusion(total[best])],
        'class_names': class_names,
        'thresholds': [float(t) for t in thresholds],
        'miou_curve': [float(v) for v in curve],
        'num_images': len(image_ids),
        'seconds': seconds,
    }
    if crf:
        threshold = result['best_threshold'] if crf_threshold is None else float(crf_threshold)
        start = time.perf_counter()
        refine = functools.partial(_crf_image, cam_dir=cam_dir, gt_dir=gt_dir,
                                   image_dir=os.path.join(data_root, image_dir),
                                   threshold=threshold, num_classes=num_classes)
        crf_total = np.zeros((len(class_names), len(class_names)), np.int64)
        for counts in map_images(refine, image_ids, num_workers, start_method, progress):
            crf_total = add_grown(crf_total, counts)
        seconds['crf'] = time.perf_counter() - start
        result.update(crf_threshold=threshold, crf_miou=float(mean_iou(crf_total)),
                      crf_iou=[float(v) for v in iou_from_confusion(crf_total)])
    return result



def dataset_class_names(dataset='voc'):
    """Class names (background first) of ``'voc'`` (mmseg's PascalVOCDataset metainfo)
    or ``'embedded'``; ``None`` when unknown (the evaluation then numbers the classes)."""
    if dataset == 'voc':
        import advcam_mm  # noqa: F401  (compat shims before mmseg.datasets imports mmcv.ops)
        from mmseg.datasets import PascalVOCDataset
        return list(PascalVOCDataset.METAINFO['classes'])
    if dataset == 'embedded':
        try:
            from advcam_mm.datasets.embedded_dataset import EMBEDDED_CLASSES
        except ImportError:
            return None
        return list(EMBEDDED_CLASSES)
    raise ValueError(f'unknown class-name set {dataset!r}: expected "voc" or "embedded"')
