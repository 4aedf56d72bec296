"""A COCO-format miniature of the embedded dataset: COCO 2014's layout and JSON, a few dozen images.

What the COCO converter, datasets and configs meet on real COCO, in seconds:
``<out_root>/{train2014,val2014}/COCO_<split>_<12-digit id>.jpg`` and
``<out_root>/annotations/instances_<split>.json`` with COCO's 80 categories
(ids 1..90 with gaps), non-square images, and annotations in COCO's three
segmentation forms: polygons and compressed RLE for objects, uncompressed RLE
for crowds (``iscrowd=1``). The scenes come from the embedded generator
(:func:`render_scene`); embedded class ``k`` is filed under a COCO category
spread over COCO's id range (:data:`CATEGORY_OF_EMBEDDED_CLASS`: the first,
the last and some between, so the id gaps are crossed). Per image index
``i`` of a split:

* every instance is annotated with its full extent (before occlusion, as the
  generator gives it), so occluded objects overlap the ones drawn over them;
* ``i % 3 == 1``: an object of another class from a second scene is drawn
  over the first object, half overlapping it (its annotation overlaps);
* ``i % 4 == 2``: the first object becomes a crowd annotation, its region
  dilated by 2 pixels as COCO's coarse crowd blobs;
* the last image of each split has no annotation (COCO has such images);
* even ``i`` are cropped to landscape, odd ``i`` to portrait.

Deterministic in its arguments, idempotent (a complete miniature with the
same arguments is left as it is; its manifest is written last) and atomic (it
is written into a temporary sibling folder and renamed into place), as the
embedded VOC dataset.
"""
import hashlib
import io
import json
import os
import os.path as osp

import cv2
import numpy as np
from PIL import Image

from advcam_mm.fileio.generated_folder import generate_folder, generated_manifest

from .coco_metainfo import COCO_CATEGORIES, annotation_file
from .embedded_dataset import EMBEDDED_CLASSES, render_scene

MINIATURE_VERSION = 3  # 2: the embedded generator v2 draws the scenes; 3: its v3 (parts fade into bodies)
MANIFEST_NAME = 'coco_miniature_manifest.json'
SPLIT_CODES = (('train2014', 0), ('val2014', 1))
FIRST_IMAGE_ID = dict(train2014=9, val2014=500042)  # COCO's ids are sparse; splits never share one
IMAGE_ID_STEP = 7
CROWD_DILATION = 2




def category_of_embedded_class(num_classes):
    """Embedded class ``k`` (1..K) -> COCO category id: K ids spread evenly over COCO's 80 (first and last included)."""
    last = len(COCO_CATEGORIES) - 1
    return {k: COCO_CATEGORIES[round((k - 1) * last / max(num_classes - 1, 1))][0]
            for k in range(1, num_classes + 1)}


CATEGORY_OF_EMBEDDED_CLASS = category_of_embedded_class(len(EMBEDDED_CLASSES) - 1)


# -- one image -----------------------------------------------------------------------------------------

def _shift(array, dy, dx):
    """``array`` moved by (dy, dx) pixels, zero-filled (no wrap-around)."""
    out = np.zeros_like(array)
    height, width = array.shape[:2]
    if abs(dy) >= height or abs(dx) >= width:
        return out
    ys, yd = (slice(0, height - dy), slice(dy, height)) if dy >= 0 else (slice(-dy, height), slice(0, height + dy))
    xs, xd = (slice(0, width - dx), slice(dx, width)) if dx >= 0 else (slice(-dx, width), slice(0, width + dx))
    out[yd, xd] = array[ys, xs]
    return out


def _centroid(mask):
    ys, xs = np.nonzero(mask)
    return ys.mean(), xs.mean()


def _draw_overlapping_object(rng, size, image, instances):
    """Draw an object of another class from a second scene half over ``instances[0]``; return its instance."""
    target = instances[0]
    height, width = image.shape[:2]
    for _ in range(20):
        donor = render_scene(rng, size)
        candidates = [dict(category=i['category'], mask=np.asarray(i['mask'], bool)[:height, :width])
                      for i in donor['instances'] if i['category'] != target['category']]
        candidates = [i for i in candidates if i['mask'].any()]
        if not candidates:
            continue
        source = max(candidates, key=lambda i: i['mask'].sum())
        (ty, tx), (sy, sx) = _centroid(target['mask']), _centroid(source['mask'])
        radius = np.sqrt(target['mask'].sum() / np.pi)
        angle = rng.uniform(0, 2 * np.pi)
        dy = int(round(ty - sy + 0.7 * radius * np.sin(angle)))
        dx = int(round(tx - sx + 0.7 * radius * np.cos(angle)))
        mask = _shift(source['mask'], dy, dx)
        if (mask & target['mask']).any():
            image[mask] = _shift(np.asarray(donor['image'])[:height, :width], dy, dx)[mask]
            return dict(category=source['category'], mask=mask)
    return None


def _crop(image, instances, rng, landscape):
    """Crop the square scene to a landscape or portrait frame (COCO's images are not square)."""
    size = image.shape[0]
    short = int(round(size * rng.uniform(0.7, 0.85)))
    offset = int(rng.integers(0, size - short + 1))
    window = (slice(offset, offset + short), slice(None)) if landscape else (slice(None), slice(offset, offset + short))
    cropped = [dict(category=i['category'], mask=i['mask'][window]) for i in instances]
    return np.ascontiguousarray(image[window]), [i for i in cropped if i['mask'].any()]


def miniature_scene(rng, size, index, last):
    """Image and annotated instances (``category`` 1..K, ``mask``, ``iscrowd``) of image ``index`` of a split."""
    scene = render_scene(rng, size)
    image = np.array(scene['image'])
    instances = [dict(category=i['category'], mask=np.asarray(i['mask'], bool)) for i in scene['instances']]
    image, instances = _crop(image, instances, rng, landscape=index % 2 == 0)
    if index % 3 == 1 and instances:
        extra = _draw_overlapping_object(rng, size, image, instances)
        if extra is not None:
            instances.append(extra)
    for instance in instances:
        instance['iscrowd'] = 0
    if index % 4 == 2 and instances:
        kernel = np.ones((2 * CROWD_DILATION + 1, 2 * CROWD_DILATION + 1), np.uint8)
        instances[0]['mask'] = cv2.dilate(instances[0]['mask'].astype(np.uint8), kernel) > 0
        instances[0]['iscrowd'] = 1
    return image, [] if index == last else instances


# -- COCO's segmentation forms -------------------------------------------------------------------------

def uncompressed_rle(mask):
    """COCO's uncompressed RLE of a boolean mask: run lengths in column-major order, starting with 0s."""
    flat = np.asarray(mask, bool).ravel(order='F')
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        counts = [0] + counts
    return dict(size=list(mask.shape), counts=[int(c) for c in counts])


def compressed_rle(mask):
    """COCO's compressed RLE (``counts`` a string, as in COCO's JSON)."""
    from pycocotools import mask as mask_utils
    rle = mask_utils.encode(np.asfortranarray(np.asarray(mask, np.uint8)))
    return dict(size=[int(s) for s in rle['size']], counts=rle['counts'].decode('ascii'))


def polygons(mask):
    """Outer contours of ``mask`` as COCO polygons ``[x1, y1, x2, y2, ...]`` (None if none has 3 points)."""
    contours, _ = cv2.findContours(np.asarray(mask, np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    result = [c.reshape(-1).astype(float).tolist() for c in contours if len(c) >= 3]
    return result or None


def _annotation(annotation_id, image_id, instance, use_polygons):
    from pycocotools import mask as mask_utils
    height, width = instance['mask'].shape
    if instance['iscrowd']:
        segmentation = uncompressed_rle(instance['mask'])
    else:
        segmentation = (polygons(instance['mask']) if use_polygons else None) or compressed_rle(instance['mask'])
    if isinstance(segmentation, list):
        rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    else:
        rle = mask_utils.frPyObjects(segmentation, height, width) if instance['iscrowd'] else \
            dict(size=segmentation['size'], counts=segmentation['counts'].encode('ascii'))
    return dict(id=annotation_id, image_id=image_id, category_id=CATEGORY_OF_EMBEDDED_CLASS[instance['category']],
                segmentation=segmentation, area=float(mask_utils.area(rle)),
                bbox=[float(v) for v in mask_utils.toBbox(rle)], iscrowd=int(instance['iscrowd']))


# -- the folder ----------------------------------------------------------------------------------------

def _jpeg_bytes(image):
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format='JPEG', quality=92)
    return buffer.getvalue()


def _params(num_train, num_val, image_size, seed):
    return dict(version=MINIATURE_VERSION, num_train=num_train, num_val=num_val, image_size=image_size,
                seed=seed, categories={str(k): v for k, v in CATEGORY_OF_EMBEDDED_CLASS.items()})


def _is_complete(root, params):
    manifest = generated_manifest(root, MANIFEST_NAME, params)
    return manifest is not None and all(
        osp.isfile(osp.join(root, annotation_file(split))) and
        all(osp.isfile(osp.join(root, split, name)) for name in names)
        for split, names in manifest.get('files', {}).items())


def _generate_into(root, params):
    size, seed = params['image_size'], params['seed']
    counts = dict(train2014=params['num_train'], val2014=params['num_val'])
    digest = hashlib.sha256()
    files = {}
    annotation_id = 1
    for split, code in SPLIT_CODES:
        os.makedirs(osp.join(root, split), exist_ok=True)
        images, annotations = [], []
        for index in range(counts[split]):
            rng = np.random.default_rng([seed, code, index])
            image, instances = miniature_scene(rng, size, index, counts[split] - 1)
            image_id = FIRST_IMAGE_ID[split] + IMAGE_ID_STEP * index
            file_name = f'COCO_{split}_{image_id:012d}.jpg'
            data = _jpeg_bytes(image)
            digest.update(data)
            with open(osp.join(root, split, file_name), 'wb') as f:
                f.write(data)
            images.append(dict(id=image_id, file_name=file_name, height=int(image.shape[0]),
                               width=int(image.shape[1])))
            for instance in instances:
                annotations.append(_annotation(annotation_id, image_id, instance, use_polygons=annotation_id % 2 == 1))
                annotation_id += 1
        content = dict(info=dict(description=f'advcam_mm COCO-format miniature ({split})'), licenses=[],
                       images=images, annotations=annotations,
                       categories=[dict(id=i, name=name, supercategory='') for i, name in COCO_CATEGORIES])
        os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
        with open(osp.join(root, annotation_file(split)), 'w') as f:
            json.dump(content, f)
        files[split] = [image['file_name'] for image in images]
    manifest = dict(params=params, files=files, images_sha256=digest.hexdigest())
    with open(osp.join(root, MANIFEST_NAME), 'w') as f:
        json.dump(manifest, f, indent=1)


def make_coco_miniature(out_root, num_train=24, num_val=12, image_size=128, seed=0, force=False):
    """Write the miniature to ``out_root`` (the COCO folder) and return ``out_root``.

    Args:
        out_root: the folder that gets ``train2014/``, ``val2014/``, ``annotations/``.
        num_train, num_val: images per split (>= 2: the last has no annotation).
        image_size: side of the square scenes before cropping (>= 64).
        seed: random seed.
        force: regenerate even if complete, and replace a folder not made by this generator.
    """
    if num_train < 2 or num_val < 2:
        raise ValueError(f'make_coco_miniature: num_train and num_val must be >= 2, got {num_train}, {num_val}')
    if image_size < 64:
        raise ValueError(f'make_coco_miniature: image_size must be >= 64, got {image_size}')
    params = _params(num_train, num_val, image_size, seed)
    return generate_folder(out_root, lambda folder: _is_complete(folder, params),
                           lambda folder: _generate_into(folder, params), MANIFEST_NAME, force=force,
                           who='make_coco_miniature')
