"""COCO instance annotations of one image -> its semantic mask and image-level labels.

The format side of the COCO conversion (the stage
:mod:`advcam_mm.stages.coco_conversion` runs it over a split): reading and
checking an ``instances_<split>.json`` file, checking an image against its
entry, rasterising a segmentation (polygons or RLE) with pycocotools, and the
rule that decides a pixel's label where instances overlap or are crowds.

Which label a pixel gets (:func:`semantic_mask`): the class of the non-crowd
instances that cover it when they all have one class; 255 when they have
several classes, or when only a crowd region covers it; 0 elsewhere. Why:
ReCAM's ``annToMask.py`` skips crowd annotations (a crowd of people becomes
background) and lets the last-listed instance win an overlap;
``alicranck/coco2voc`` paints crowds as objects and lets the smallest instance
win. Both put a guess into the ground truth. Crowd regions are coarse blobs
around groups, and where two annotators' outlines of different classes
overlap nobody said which is right, so these pixels are VOC's "void": ignored
by training and by mIoU. Overlaps of one class are not ambiguous and keep the
class. (So the masks differ from ReCAM's on crowd and overlap pixels; the
peers' figures were measured on masks like theirs.)
"""
import json
import os
import os.path as osp

import numpy as np
from PIL import Image

from .coco_metainfo import IGNORE_INDEX


class COCOAnnotationError(ValueError):
    """An annotation file that cannot be converted; the message names the file and the entry."""


# -- reading and checking an instances file ---------------------------------------------------------

def _entry_name(annotation, index):
    return f'annotation id {annotation["id"]}' if 'id' in annotation else f'annotation #{index}'


def read_instances(json_path):
    """Parse ``instances_<split>.json`` and check it; errors name the file and the entry.

    Returns a dict with ``categories`` (``[(id, name)]`` sorted by id),
    ``images`` (``[dict(coco_id, id, file_name, height, width)]`` sorted by
    COCO id; ``id`` is the file name without extension) and
    ``annotations`` (COCO image id -> list of ``dict(id, category_id,
    iscrowd, segmentation)``).
    """
    json_path = os.fspath(json_path)
    if not osp.isfile(json_path):
        raise FileNotFoundError(f'{json_path}: COCO annotation file not found')
    try:
        with open(json_path) as f:
            content = json.load(f)
    except (OSError, ValueError) as error:
        raise COCOAnnotationError(f'{json_path}: not a readable JSON file ({error})') from error
    missing = [k for k in ('images', 'annotations', 'categories') if not isinstance(content, dict) or k not in content]
    if missing:
        raise COCOAnnotationError(f'{json_path}: not a COCO instances file (no {", ".join(missing)})')

    categories = {}
    for index, category in enumerate(content['categories']):
        if 'id' not in category or 'name' not in category:
            raise COCOAnnotationError(f'{json_path}: category #{index} has no "id" or "name": {category}')
        if category['id'] in categories:
            raise COCOAnnotationError(f'{json_path}: category id {category["id"]} is listed twice')
        categories[category['id']] = category['name']

    images, stems = {}, {}
    for index, image in enumerate(content['images']):
        lacking = [k for k in ('id', 'file_name', 'height', 'width') if k not in image]
        if lacking:
            raise COCOAnnotationError(f'{json_path}: image #{index} has no {", ".join(lacking)}')
        coco_id, stem = image['id'], osp.splitext(osp.basename(image['file_name']))[0]
        if coco_id in images or stem in stems:
            raise COCOAnnotationError(f'{json_path}: image id {coco_id} / file {image["file_name"]} is listed twice')
        images[coco_id] = dict(coco_id=coco_id, id=stem, file_name=image['file_name'],
                               height=int(image['height']), width=int(image['width']))
        stems[stem] = coco_id

    annotations = {}
    for index, annotation in enumerate(content['annotations']):
        name = _entry_name(annotation, index)
        lacking = [k for k in ('image_id', 'category_id', 'segmentation') if k not in annotation]
        if lacking:
            raise COCOAnnotationError(f'{json_path}: {name} has no {", ".join(lacking)}')
        if annotation['image_id'] not in images:
            raise COCOAnnotationError(f'{json_path}: {name} refers to image id {annotation["image_id"]}, '
                                      f'which is not in "images"')
        if annotation['category_id'] not in categories:
            raise COCOAnnotationError(f'{json_path}: {name} has category id {annotation["category_id"]}, '
                                      f'which is not in "categories" ({len(categories)} categories)')
        annotations.setdefault(annotation['image_id'], []).append(dict(
            id=annotation.get('id', f'#{index}'), category_id=annotation['category_id'],
            iscrowd=int(annotation.get('iscrowd', 0)), segmentation=annotation['segmentation']))
    return dict(categories=sorted(categories.items()), images=[images[i] for i in sorted(images)],
                annotations=annotations)


def label_of_category(categories):
    """COCO category id -> mask value: the ``k``-th smallest id gets ``k`` (1..K; 0 is background)."""
    return {category_id: value for value, (category_id, _) in enumerate(sorted(categories), start=1)}


def annotation_mask(segmentation, height, width):
    """Boolean ``(height, width)`` mask of one COCO segmentation, rasterised by pycocotools.

    Accepts COCO's three forms: polygons (a list of ``[x1, y1, x2, y2, ...]``,
    merged), uncompressed RLE (``counts`` a list, COCO's form for crowds) and
    compressed RLE (``counts`` a string). Raises ``ValueError`` on a malformed
    one (odd or short polygon, RLE of another size or length).
    """
    from pycocotools import mask as mask_utils
    if isinstance(segmentation, list):
        polygons = []
        for polygon in segmentation:
            if not isinstance(polygon, (list, tuple)) or len(polygon) < 6 or len(polygon) % 2:
                raise ValueError(f'a polygon must list x, y pairs of at least 3 points, got '
                                 f'{str(polygon)[:60]}')
            polygons.append([float(v) for v in polygon])
        if not polygons:
            return np.zeros((height, width), dtype=bool)
        rle = mask_utils.merge(mask_utils.frPyObjects(polygons, height, width))
    elif isinstance(segmentation, dict) and 'counts' in segmentation and 'size' in segmentation:
        if [int(s) for s in segmentation['size']] != [height, width]:
            raise ValueError(f'RLE of size {segmentation["size"]} on an image of size [{height}, {width}]')
        counts = segmentation['counts']
        if isinstance(counts, list):
            if sum(counts) != height * width:
                raise ValueError(f'uncompressed RLE counts sum to {sum(counts)}, not {height} x {width}')
            rle = mask_utils.frPyObjects(dict(size=[height, width], counts=counts), height, width)
        else:
            rle = dict(size=[height, width], counts=counts.encode() if isinstance(counts, str) else counts)
    else:
        raise ValueError(f'unknown segmentation format {str(segmentation)[:60]} (polygons or RLE expected)')
    return mask_utils.decode(rle).astype(bool)


def semantic_mask(height, width, instances, ignore_index=IGNORE_INDEX):
    """uint8 ``(height, width)`` mask from ``instances``: iterable of ``(value, iscrowd, bool mask)``.

    A pixel gets ``value`` when every non-crowd instance covering it has that
    value; ``ignore_index`` when non-crowd instances of different values cover
    it, or when it lies only in crowd regions; 0 when nothing covers it. The
    order of the instances does not matter.
    """
    label = np.zeros((height, width), dtype=np.uint8)
    covered = np.zeros((height, width), dtype=bool)
    conflict = np.zeros((height, width), dtype=bool)
    crowd = np.zeros((height, width), dtype=bool)
    for value, iscrowd, mask in instances:
        if iscrowd:
            crowd |= mask
            continue
        conflict |= mask & covered & (label != value)
        label[mask & ~covered] = value
        covered |= mask
    label[conflict | (crowd & ~covered)] = ignore_index
    return label


def check_image_size(image_path, height, width, json_path):
    """Fail, naming both files, when the image is unreadable or not ``width x height`` as the JSON says."""
    try:
        with Image.open(image_path) as image:  # reads the header only
            size = image.size
    except FileNotFoundError:
        raise FileNotFoundError(f'{image_path}: image listed in {json_path} not found') from None
    except Exception as error:  # noqa: BLE001 - PIL raises several types; re-raised with the file named
        raise OSError(f'{image_path}: unreadable image ({error})') from error
    if size != (width, height):
        raise ValueError(f'{image_path} is {size[0]}x{size[1]} (W x H) but {json_path} gives {width}x{height}')


def image_semantic_mask(image, annotations, label_of, json_path, ignore_index=IGNORE_INDEX):
    """The semantic mask of one image entry of :func:`read_instances` from its ``annotations``.

    Rasterises each annotation (:func:`annotation_mask`) and applies the rule
    of :func:`semantic_mask`; a malformed segmentation is an error naming the
    file, the annotation id and the image.
    """
    height, width = image['height'], image['width']
    instances = []
    for annotation in annotations:
        try:
            mask = annotation_mask(annotation['segmentation'], height, width)
        except ValueError as error:
            raise COCOAnnotationError(f'{json_path}: annotation id {annotation["id"]} of image '
                                      f'{image["file_name"]}: {error}') from error
        instances.append((label_of[annotation['category_id']], annotation['iscrowd'], mask))
    return semantic_mask(height, width, instances, ignore_index)


def image_labels(annotations, label_of, num_classes):
    """float32 multi-hot ``(num_classes,)`` of the categories annotated in the image (crowds included)."""
    labels = np.zeros(num_classes, dtype=np.float32)
    for annotation in annotations:
        labels[label_of[annotation['category_id']] - 1] = 1.0
    return labels
