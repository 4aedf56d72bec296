"""Stage: MS COCO 2014 instance annotations -> semantic masks, split lists and image-level labels.

Reads     ``<data_root>/annotations/instances_<split>.json`` (by digest) and the images
          ``<data_root>/<split>/`` (their sizes are checked against the JSON).
Writes    per split, under ``out_root`` (default ``data_root``; layout in
          :mod:`advcam_mm.datasets.coco_metainfo`):

          * the output folder ``SegmentationClass/<split>/``: ``<id>.png`` (0 = background,
            1..80 = the categories in COCO's order, 255 = ignore) and its ``stage_manifest.json``;
          * when every mask is there: ``ImageSets/<split>.txt`` (the images with at least one
            annotation, by COCO id: 82,081 of train2014's 82,783 and 40,137 of val2014's 40,504,
            the counts of CLIP-ES's lists; an image without a label cannot train a classifier)
            and the split's labels in ``cls_labels_coco.npy`` (id -> float32 multi-hot over the
            80 categories, both splits in one file, IRN's format; crowds count as present).
Settings  the converter's version, the mask rule (:func:`advcam_mm.datasets.coco_annotations.semantic_mask`:
          crowd pixels and pixels where instances of different classes overlap are 255),
          the ignore index and the JSON's category list.

The split's stage manifest is the dataset's identity for later stages
(:func:`advcam_mm.stages.datasets.dataset_input` reads it through the COCO
datasets' ``identity_folder``). The protocol is every stage's
(:mod:`.output_folder`): masks are written by worker processes
(:func:`.worker_pool.map_images`), each atomically; a killed run leaves the
manifest ``incomplete`` and no split list (the list is written last, so a
half-converted split cannot be read), and the rerun converts only the missing
masks. A rerun with another annotation file, rule or category list is refused
with the differences named (``--regenerate`` replaces the split; ``--force``
converts it again even when complete); masks without a manifest are never
adopted::

    python tools/convert_coco.py --data-root data/coco2014 [--splits train2014 val2014] [--num-workers 16]
"""
import argparse
import functools
import os
import os.path as osp
import time

from ..datasets.cls_labels import read_cls_labels_file, read_split_file, save_cls_labels
from ..datasets.coco_annotations import (check_image_size, image_labels, image_semantic_mask,
                                         label_of_category, read_instances)
from ..datasets.coco_metainfo import (CLS_LABELS_FILE, IGNORE_INDEX, SPLITS, annotation_file, mask_folder,
                                      split_list_file)
from ..fileio.atomic import atomic_write
from ..fileio.label_png import label_png_path, remove_stale_temp_files, save_label_png
from ..fileio.manifest import file_input
from .output_folder import OutputFolder
from .worker_pool import map_images

STAGE = 'coco_conversion'
CONVERTER_VERSION = 1
MASK_RULE = ('class of the non-crowd instances covering the pixel when they agree; 255 when they have '
             'several classes or only crowd regions cover it; 0 elsewhere')


def describe(data_root: str, split: str, out_root=None) -> tuple:
    """``(OutputFolder, instances, labelled images)`` of converting ``split`` (reads and checks the JSON)."""
    out_root = out_root or data_root
    json_path = osp.join(data_root, annotation_file(split))
    instances = read_instances(json_path)
    settings = dict(converter_version=CONVERTER_VERSION, split=split, mask_rule=MASK_RULE,
                    ignore_index=IGNORE_INDEX, categories=[[int(i), name] for i, name in instances['categories']])
    inputs = dict(annotations=file_input(json_path), images=dict(path=osp.abspath(osp.join(data_root, split))))
    folder = OutputFolder(osp.join(out_root, mask_folder(split)), STAGE, settings, inputs, patterns=('*.png',))
    images = [image for image in instances['images'] if instances['annotations'].get(image['coco_id'])]
    return folder, instances, images


def _convert_image(task, label_of, json_path):
    """Worker: check the image, write its mask; return ``(ignored pixels, pixels)``."""
    image, annotations, image_path, mask_path = task
    check_image_size(image_path, image['height'], image['width'], json_path)
    mask = image_semantic_mask(image, annotations, label_of, json_path)
    save_label_png(mask_path, mask)
    return int((mask == IGNORE_INDEX).sum()), mask.size


def _split_is_whole(folder, images, list_path, labels_path) -> bool:
    """Every mask, the split list and every label of a split whose manifest is complete are there."""
    if not (osp.isfile(list_path) and osp.isfile(labels_path)):
        return False
    if not all(osp.isfile(label_png_path(folder.path, image['id'])) for image in images):
        return False
    labels = read_cls_labels_file(labels_path)
    return all(image['id'] in labels for image in images)


def _plan(folder, force: bool, regenerate: bool) -> str:
    """The stage protocol's plan; ``force`` remakes a split that has a manifest even when it is complete."""
    if force and folder.recorded_manifest() is not None:
        return 'regenerate'
    return folder.plan(regenerate or force)


def convert_split(data_root: str, split: str, out_root=None, num_workers: int = 2, force: bool = False,
                  regenerate: bool = False, progress: bool = True) -> dict:
    """Convert one split (see the module docstring).

    Returns ``dict(images, excluded, written, skipped, ignored_fraction, seconds, plan)``;
    ``ignored_fraction`` covers the masks written in this run (``None`` when none were).
    """
    start = time.perf_counter()
    out_root = out_root or data_root
    json_path = osp.join(data_root, annotation_file(split))
    folder, instances, images = describe(data_root, split, out_root)
    list_path = osp.join(out_root, split_list_file(split))
    labels_path = osp.join(out_root, CLS_LABELS_FILE)
    decision = _plan(folder, force, regenerate)
    counts = dict(images=len(images), excluded=len(instances['images']) - len(images))
    if decision == 'reuse' and _split_is_whole(folder, images, list_path, labels_path):
        return dict(counts, written=0, skipped=len(images), ignored_fraction=None, plan=decision,
                    seconds=time.perf_counter() - start)

    image_paths = [osp.join(data_root, split, image['file_name']) for image in images]
    missing = [p for p in image_paths if not osp.isfile(p)]
    if missing:
        more = f' (and {len(missing) - 1} more)' if len(missing) > 1 else ''
        raise FileNotFoundError(f'{missing[0]}: image listed in {json_path} not found{more}')
    folder.start(decision)
    previous_ids = read_split_file(list_path) if osp.isfile(list_path) else []
    if osp.isfile(list_path):
        os.remove(list_path)  # written last: no list, no half-converted split in use

    mask_paths = [label_png_path(folder.path, image['id']) for image in images]
    todo = [i for i, path in enumerate(mask_paths) if not osp.isfile(path)]
    remove_stale_temp_files(folder.path, [mask_paths[i] for i in todo])  # left by a killed run
    label_of = label_of_category(instances['categories'])
    tasks = [(images[i], instances['annotations'][images[i]['coco_id']], image_paths[i], mask_paths[i])
             for i in todo]
    work = functools.partial(_convert_image, label_of=label_of, json_path=json_path)
    ignored = pixels = 0
    for ignored_pixels, image_pixels in map_images(work, tasks, num_workers, f'{split} masks', progress):
        ignored += ignored_pixels
        pixels += image_pixels

    _write_labels(labels_path, previous_ids, images, instances, label_of)
    with atomic_write(list_path, 'w') as f:
        f.write(''.join(image['id'] + '\n' for image in images))
    folder.complete(**counts, split_list=split_list_file(split), labels_file=CLS_LABELS_FILE)
    return dict(counts, written=len(todo), skipped=len(images) - len(todo), plan=decision,
                ignored_fraction=ignored / pixels if pixels else None, seconds=time.perf_counter() - start)


def _write_labels(path, previous_ids, images, instances, label_of):
    """Put the split's labels into ``cls_labels_coco.npy``, replacing those of its previous list."""
    labels = read_cls_labels_file(path) if osp.isfile(path) else {}
    for image_id in previous_ids:
        labels.pop(image_id, None)
    for image in images:
        labels[image['id']] = image_labels(instances['annotations'][image['coco_id']], label_of, len(label_of))
    save_cls_labels(path, labels)


def convert_coco(data_root, splits=SPLITS, out_root=None, num_workers=None, force=False, regenerate=False,
                 progress=True) -> dict:
    """Convert ``splits`` of the COCO folder ``data_root``; return ``{split: convert_split(...)}``.

    ``num_workers``: worker processes for the masks (default: the CPU count; <= 1: this process).
    """
    data_root = os.fspath(data_root)
    out_root = os.fspath(out_root or data_root)
    if not osp.isdir(data_root):
        raise FileNotFoundError(f'{data_root}: COCO folder not found (expected annotations/, train2014/, val2014/)')
    num_workers = (os.cpu_count() or 1) if num_workers is None else num_workers
    return {split: convert_split(data_root, split, out_root, num_workers, force, regenerate, progress)
            for split in splits}


def status(args) -> str:
    """``'complete'`` when every split of ``args`` is converted with the same settings, else ``'todo'``."""
    for split in args.splits:
        folder, _, images = describe(args.data_root, split, args.out_root)
        out_root = args.out_root or args.data_root
        if _plan(folder, args.force, args.regenerate) != 'reuse' or not _split_is_whole(
                folder, images, osp.join(out_root, split_list_file(split)), osp.join(out_root, CLS_LABELS_FILE)):
            return 'todo'
    return 'complete'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='MS COCO 2014 instance annotations -> semantic masks, split '
                                                 'lists and image-level labels')
    parser.add_argument('--data-root', required=True, help='the COCO folder (annotations/, train2014/, val2014/)')
    parser.add_argument('--splits', nargs='+', default=list(SPLITS), help='splits to convert')
    parser.add_argument('--out-root', default=None, help='where the outputs go (default: --data-root)')
    parser.add_argument('--num-workers', type=int, default=None, help='worker processes (default: CPU count)')
    parser.add_argument('--regenerate', action='store_true',
                        help='replace a split converted with other settings instead of refusing it')
    parser.add_argument('--force', action='store_true', help='convert again, even a complete split')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    results = convert_coco(args.data_root, args.splits, args.out_root, args.num_workers, args.force,
                           args.regenerate)
    for split, result in results.items():
        ignored = result['ignored_fraction']
        ignored = '' if ignored is None else f', {100 * ignored:.2f} % of their pixels ignored (crowd/overlap)'
        print(f'{split}: {result["images"]} images listed ({result["excluded"]} without annotations left out), '
              f'{result["written"]} masks written{ignored}, {result["skipped"]} already there '
              f'({result["plan"]}), {result["seconds"]:.1f} s', flush=True)


if __name__ == '__main__':
    main()
