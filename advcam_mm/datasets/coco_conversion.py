"""MS COCO 2014 instance annotations -> semantic masks, split lists and image-level labels.

Reads ``<data_root>/annotations/instances_<split>.json`` (and checks the
images in ``<data_root>/<split>/``) and writes, under ``out_root`` (default
``data_root``; layout in :mod:`.coco_metainfo`):

* ``SegmentationClass/<split>/<id>.png``: one palette PNG per image, 0 =
  background, 1..80 = the categories in COCO's order (sorted category id),
  255 = ignore;
* ``ImageSets/<split>.txt``: the ids of the images with at least one
  annotation, by COCO image id (82,081 of train2014's 82,783 images and 40,137
  of val2014's 40,504 in the lists CLIP-ES ships; images without any label
  cannot train a classifier and have no class map);
* ``cls_labels_coco.npy``: id -> float32 multi-hot over the 80 categories,
  both splits in one file, IRN's ``cls_labels.npy`` format. A category is
  present when the image has an annotation of it, crowd annotations included
  (as ReCAM's labels, read from all of ``CocoDetection``'s annotations): a
  crowd of people shows people;
* ``coco_conversion_manifest.json``: the settings and the annotation files'
  digests of what is there, per split ``complete`` or ``incomplete``.

Which label a pixel gets, and why that rule: :func:`.coco_annotations.semantic_mask`
(crowd pixels and pixels where instances of different classes overlap are 255).

Writes are atomic and resumable: masks are written by worker processes, each
file renamed into place when complete; a killed run leaves the split
``incomplete`` and the rerun converts only the missing images. A rerun with
another annotation file, rule or category list refuses and names the
differences (``force=True`` converts again); masks without a manifest are
never adopted.
"""
import hashlib
import json
import multiprocessing
import os
import os.path as osp
import time

from PIL import Image

from advcam_mm.fileio.atomic import atomic_write
from advcam_mm.fileio.label_png import label_png_path, remove_stale_temp_files, save_label_png

from .cls_labels import read_cls_labels_file, read_split_file, save_cls_labels
from .coco_annotations import (COCOAnnotationError, annotation_mask, image_labels, label_of_category,
                               read_instances, semantic_mask)
from .coco_metainfo import (CLS_LABELS_FILE, IGNORE_INDEX, SPLITS, annotation_file, mask_folder,
                            split_list_file)

CONVERTER_VERSION = 1
MANIFEST_NAME = 'coco_conversion_manifest.json'
MASK_RULE = ('class of the non-crowd instances covering the pixel when they agree; 255 when they have '
             'several classes or only crowd regions cover it; 0 elsewhere')


def _check_image_size(image_path, height, width, json_path):
    try:
        with Image.open(image_path) as image:  # reads the header only
            size = image.size
    except Exception as error:  # noqa: BLE001 - PIL raises several types; re-raised with the file named
        raise OSError(f'{image_path}: unreadable image ({error})') from error
    if size != (width, height):
        raise ValueError(f'{image_path} is {size[0]}x{size[1]} (W x H) but {json_path} gives {width}x{height}')


def _convert_image(task):
    """Worker: write one image's mask; return ``(ignored pixels, pixels)``."""
    image, annotations, label_of, image_path, mask_path, json_path = task
    height, width = image['height'], image['width']
    _check_image_size(image_path, height, width, json_path)
    instances = []
    for annotation in annotations:
        try:
            mask = annotation_mask(annotation['segmentation'], height, width)
        except ValueError as error:
            raise COCOAnnotationError(f'{json_path}: annotation id {annotation["id"]} of image '
                                      f'{image["file_name"]}: {error}') from error
        instances.append((label_of[annotation['category_id']], annotation['iscrowd'], mask))
    mask = semantic_mask(height, width, instances)
    save_label_png(mask_path, mask)
    return int((mask == IGNORE_INDEX).sum()), mask.size


def _run(tasks, num_workers, start_method, progress):
    """Yield ``_convert_image(task)`` for each task, in ``num_workers`` processes when > 1."""
    if num_workers <= 1:
        results, pool = map(_convert_image, tasks), None
    else:
        if start_method is None:
            start_method = 'fork' if 'fork' in multiprocessing.get_all_start_methods() else 'spawn'
        pool = multiprocessing.get_context(start_method).Pool(num_workers)  # workers use pycocotools and PIL only
        chunksize = max(1, min(16, len(tasks) // (8 * num_workers)))
        results = pool.imap_unordered(_convert_image, tasks, chunksize=chunksize)
    try:
        for result in results:
            if progress is not None:
                progress.update()
            yield result
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()


# -- manifest ------------------------------------------------------------------------------------------

def _sha256(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 22), b''):
            digest.update(block)
    return digest.hexdigest()


def _read_manifest(path):
    if not osp.isfile(path):
        return None
    try:
        with open(path) as f:
            manifest = json.load(f)
    except (OSError, ValueError) as error:
        raise ValueError(f'{path}: unreadable conversion manifest ({error}); delete it and the converted '
                         f'files (or convert with force) to start over') from error
    if not isinstance(manifest, dict) or 'settings' not in manifest:
        raise ValueError(f'{path}: not a COCO conversion manifest (no "settings")')
    manifest.setdefault('splits', {})
    return manifest


def _write_manifest(path, manifest):
    with atomic_write(path, 'w') as f:
        json.dump(manifest, f, indent=1, sort_keys=True)


def _differences(recorded, expected, prefix=''):
    """``key: recorded -> expected`` for each differing entry of two (nested) dicts."""
    lines = []
    for key in sorted(set(recorded) | set(expected)):
        old, new = recorded.get(key, '<absent>'), expected.get(key, '<absent>')
        if isinstance(old, dict) and isinstance(new, dict):
            lines += _differences(old, new, f'{prefix}{key}.')
        elif old != new:
            show = (lambda v: f'{str(v)[:80]}...' if len(str(v)) > 80 else repr(v))  # noqa: E731
            lines.append(f'{prefix}{key}: {show(old)} -> {show(new)}')
    return lines


# -- the conversion ------------------------------------------------------------------------------------

def _split_outputs(out_root, split, images):
    folder = osp.join(out_root, mask_folder(split))
    return folder, [label_png_path(folder, image['id']) for image in images]


def _plan_split(manifest, manifest_path, out_root, split, settings, record, force):
    """``'skip'`` (complete), ``'resume'`` or ``'fresh'``; raise when the folder holds something else."""
    mask_dir = osp.join(out_root, mask_folder(split))
    has_files = osp.isdir(mask_dir) and any(name.endswith('.png') for name in os.listdir(mask_dir))
    if force:
        return 'fresh'
    if manifest is None or split not in manifest['splits']:
        if has_files:
            raise FileExistsError(f'{mask_dir} holds masks that {manifest_path} does not describe; they are not '
                                  f'adopted: remove them or convert with force (--force) to replace them')
        if manifest is not None and manifest['settings'] != settings:
            raise ValueError(f'{manifest_path}: the other splits there were converted with other settings:\n  '
                             + '\n  '.join(_differences(manifest['settings'], settings))
                             + '\nconvert with force (--force) to start over')
        return 'fresh'
    recorded = dict(manifest['settings'], **{k: manifest['splits'][split].get(k, '<absent>') for k in record})
    expected = dict(settings, **record)
    differences = _differences(recorded, expected)
    if differences:
        raise ValueError(f'{manifest_path}: {split} was converted with other settings:\n  '
                         + '\n  '.join(differences) + '\nconvert with force (--force) to replace it')
    return 'skip' if manifest['splits'][split].get('status') == 'complete' else 'resume'


def convert_coco(data_root, splits=SPLITS, out_root=None, num_workers=None, force=False,
                 progress_factory=None, start_method=None):
    """Write the semantic masks, split lists and image labels of COCO ``splits`` (see module docstring).

    Args:
        data_root: the COCO folder (``annotations/``, ``train2014/``, ``val2014/``).
        splits: split names; ``annotations/instances_<split>.json`` and ``<split>/`` are read.
        out_root: where the outputs go (default ``data_root``).
        num_workers: worker processes for the masks (default: the CPU count; <= 1: in this process).
        force: convert again even when complete or made with other settings.
        progress_factory: ``f(title, total)`` returning an object with
            ``update(skipped=False)`` and ``close()`` (e.g. ``RankZeroProgress``).
        start_method: multiprocessing start method (default ``fork`` where available).

    Returns:
        ``{split: dict(images, written, skipped, excluded, ignored_fraction, seconds, status)}``;
        ``ignored_fraction`` covers the masks written in this run.
    """
    data_root = os.fspath(data_root)
    out_root = os.fspath(out_root or data_root)
    if not osp.isdir(data_root):
        raise FileNotFoundError(f'{data_root}: COCO folder not found (expected annotations/, train2014/, val2014/)')
    num_workers = (os.cpu_count() or 1) if num_workers is None else num_workers
    return {split: _convert_split(data_root, out_root, split, num_workers, force, progress_factory, start_method)
            for split in splits}


def _convert_split(data_root, out_root, split, num_workers, force, progress_factory, start_method):
    start = time.perf_counter()
    json_path = osp.join(data_root, annotation_file(split))
    instances = read_instances(json_path)
    settings = dict(converter_version=CONVERTER_VERSION, mask_rule=MASK_RULE, ignore_index=IGNORE_INDEX,
                    categories=[[int(i), name] for i, name in instances['categories']])
    record = dict(annotation_file=annotation_file(split), annotation_sha256=_sha256(json_path))
    manifest_path = osp.join(out_root, MANIFEST_NAME)
    manifest = _read_manifest(manifest_path)
    plan = _plan_split(manifest, manifest_path, out_root, split, settings, record, force)
    images = [image for image in instances['images'] if instances['annotations'].get(image['coco_id'])]
    mask_dir, mask_paths = _split_outputs(out_root, split, images)
    list_path = osp.join(out_root, split_list_file(split))
    result = dict(images=len(images), excluded=len(instances['images']) - len(images), status='complete')
    if plan == 'skip' and osp.isfile(list_path) and all(osp.isfile(p) for p in mask_paths):
        return dict(result, written=0, skipped=len(images), ignored_fraction=None,
                    seconds=time.perf_counter() - start)

    image_paths = [osp.join(data_root, split, image['file_name']) for image in images]
    missing = [p for p in image_paths if not osp.isfile(p)]
    if missing:
        more = f' (and {len(missing) - 1} more)' if len(missing) > 1 else ''
        raise FileNotFoundError(f'{missing[0]}: image listed in {json_path} not found{more}')

    if manifest is None or force and manifest['settings'] != settings:
        manifest = dict(format='advcam_mm COCO conversion', settings=settings, splits={})
    manifest['settings'] = settings
    manifest['splits'][split] = dict(record, images=len(images), status='incomplete')
    os.makedirs(mask_dir, exist_ok=True)
    _write_manifest(manifest_path, manifest)
    previous_ids = read_split_file(list_path) if osp.isfile(list_path) else []
    if force and osp.isfile(list_path):
        os.remove(list_path)  # the list is written last: no list, no half-converted split in use

    todo = [i for i, path in enumerate(mask_paths) if force or not osp.isfile(path)]
    remove_stale_temp_files(mask_dir, mask_paths)  # left by a killed run
    label_of = label_of_category(instances['categories'])
    tasks = [(images[i], instances['annotations'][images[i]['coco_id']], label_of, image_paths[i],
              mask_paths[i], json_path) for i in todo]
    progress = progress_factory(f'{split} masks', len(images)) if progress_factory else None
    ignored = pixels = 0
    try:
        for _ in range(len(images) - len(todo) if progress is not None else 0):
            progress.update(skipped=True)
        for ignored_pixels, image_pixels in _run(tasks, min(num_workers, len(tasks)), start_method, progress):
            ignored += ignored_pixels
            pixels += image_pixels
    finally:
        if progress is not None:
            progress.close()

    _write_labels(osp.join(out_root, CLS_LABELS_FILE), previous_ids, images, instances, label_of)
    with atomic_write(list_path, 'w') as f:
        f.write(''.join(image['id'] + '\n' for image in images))
    manifest['splits'][split]['status'] = 'complete'
    _write_manifest(manifest_path, manifest)
    return dict(result, written=len(todo), skipped=len(images) - len(todo),
                ignored_fraction=ignored / pixels if pixels else None, seconds=time.perf_counter() - start)


def _write_labels(path, previous_ids, images, instances, label_of):
    """Put the split's labels into ``cls_labels_coco.npy``, replacing those of its previous list."""
    labels = read_cls_labels_file(path) if osp.isfile(path) else {}
    for image_id in previous_ids:
        labels.pop(image_id, None)
    for image in images:
        labels[image['id']] = image_labels(instances['annotations'][image['coco_id']], label_of, len(label_of))
    save_cls_labels(path, labels)
