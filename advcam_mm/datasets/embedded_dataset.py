"""The embedded default dataset: a small, deterministic, VOC-layout synthetic dataset.

Why it looks the way it does: AdvCAM (Lee et al., CVPR 2021) starts from the
observation that a classifier's CAM covers only the small, most
discriminative part of an object (a dog's face) and misses the rest (its
body), and it climbs adversarially to spread the map over the whole object.
Each object here is therefore

* a large textured *body* (a perturbed ellipse, striped or spotted) whose
  colour is drawn from one distribution shared by all classes, with only a
  slight class tint: weak class evidence, and
* a small *part* (~10-15 % of the object) of a class-specific saturated colour
  and shape attached at a random place on the body's rim: strong evidence,

on a cluttered background of muted random shapes (never the part colours).
The mask labels body and part with the class, so a classifier trained on
image labels sees the part, and its CAM covers the part but misses the body.

On disk it is VOC: ``<out_root>/VOCdevkit/VOC2012/{JPEGImages/*.jpg,
SegmentationClass/*.png, SegmentationClassAug/*.png,
ImageSets/Segmentation/{train,train_aug,val,trainval}.txt, cls_labels.npy}``
(palette PNGs, 0 = background, 255 = void border as VOC's
``SegmentationClass``; as in VOC, ``SegmentationClass`` covers train and val,
``SegmentationClassAug`` covers train_aug and val, and its masks of ids outside
``train`` have no void border, like the SBD-derived ones), so VOC configs run
on it with only ``data_root`` and the class list (``EMBEDDED_CLASSES``) changed.
"""
import contextlib
import hashlib
import io
import json
import os
import os.path as osp
import shutil
import tempfile

import cv2
import numpy as np
from PIL import Image

from advcam_mm.fileio.atomic import atomic_write

from .cls_labels import class_labels_of_mask
from .voc_base import voc_palette

# Class names are deliberately not VOC names: mmseg's stock PascalVOCDataset remaps labels
# by name, which would silently scramble these masks; with foreign names it raises instead.
EMBEDDED_CLASSES = ('background', 'beetle', 'kite', 'lantern', 'snail')
EMBEDDED_PALETTE = voc_palette(len(EMBEDDED_CLASSES))

GENERATOR_VERSION = 1
MANIFEST_NAME = 'embedded_manifest.json'
IGNORE_INDEX = 255

# Strongly class-specific part: (RGB colour, shape) per foreground class.
_PARTS = {
    1: ((235, 25, 25), 'disk'),       # beetle: red round head with a dark eye
    2: ((250, 215, 10), 'triangle'),  # kite: yellow triangle
    3: ((15, 215, 235), 'square'),    # lantern: cyan square with a dark core
    4: ((225, 25, 225), 'ring'),      # snail: magenta ring with a white core
}
_PART_AREA_FRACTION = (0.10, 0.15)  # part area / body area
_CLASS_TINT_STRENGTH = 0.10  # body colour moves this fraction towards the part colour


def _smooth_field(rng, size, cells, channels=1):
    """Low-frequency noise in [0, 1]: a random coarse grid upsampled bicubically."""
    grid = rng.random((cells, cells, channels)).astype(np.float32)
    field = cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)
    return np.clip(field.reshape(size, size, channels), 0, 1)


def _hsv_to_rgb(h, s, v):
    hsv = np.array([[[h * 179.0, s * 255.0, v * 255.0]]], dtype=np.float32)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def _muted_colour(rng):
    return _hsv_to_rgb(rng.random(), rng.uniform(0.05, 0.45), rng.uniform(0.25, 0.8))


def _background(rng, size):
    """Cluttered background: blended muted colours, random flat shapes and lines, noise."""
    c1, c2 = _muted_colour(rng), _muted_colour(rng)
    blend = _smooth_field(rng, size, 4)
    image = c1 * blend + c2 * (1 - blend)
    for _ in range(rng.integers(6, 13)):
        colour = tuple(float(c) for c in _muted_colour(rng))
        kind = rng.integers(4)
        layer = np.zeros((size, size), np.uint8)
        x, y = (int(v) for v in rng.integers(0, size, 2))
        extent = int(rng.integers(size // 16, size // 4))
        if kind == 0:
            cv2.rectangle(layer, (x, y), (x + extent, y + int(rng.integers(4, extent + 5))), 1, -1)
        elif kind == 1:
            cv2.circle(layer, (x, y), extent // 2, 1, -1)
        elif kind == 2:
            x2, y2 = (int(v) for v in rng.integers(0, size, 2))
            cv2.line(layer, (x, y), (x2, y2), 1, int(rng.integers(1, 4)))
        else:
            pts = rng.integers(-extent, extent + 1, (int(rng.integers(3, 6)), 2)) + [x, y]
            cv2.fillPoly(layer, [pts.astype(np.int32)], 1)
        image[layer > 0] = colour
    return image


def _body_mask(rng, size, centre, axes, angle):
    """A blob: an ellipse whose radius is modulated by a few low harmonics."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    dx, dy = xx - centre[0], yy - centre[1]
    cos, sin = np.cos(angle), np.sin(angle)
    u, v = cos * dx + sin * dy, -sin * dx + cos * dy
    theta = np.arctan2(v / axes[1], u / axes[0])
    wobble = np.ones_like(theta)
    harmonics = [(k, rng.uniform(0.03, 0.10), rng.uniform(0, 2 * np.pi)) for k in (2, 3, 5)]
    for k, amplitude, phase in harmonics:
        wobble += amplitude * np.sin(k * theta + phase)
    radius = np.sqrt((u / axes[0]) ** 2 + (v / axes[1]) ** 2)
    mask = radius <= wobble

    def rim_point(phi):
        """Image point on the blob boundary in direction ``phi`` of the body frame."""
        w = 1 + sum(a * np.sin(k * phi + p) for k, a, p in harmonics)
        bu, bv = axes[0] * w * np.cos(phi), axes[1] * w * np.sin(phi)
        return centre[0] + cos * bu - sin * bv, centre[1] + sin * bu + cos * bv

    return mask, rim_point


def _body_texture(rng, size, colour):
    """Shared (class-independent) body textures: stripes or spots around ``colour``."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    dark = colour * rng.uniform(0.45, 0.7)
    if rng.random() < 0.5:
        angle, period = rng.uniform(0, np.pi), rng.uniform(5, 11)
        phase = (np.cos(angle) * xx + np.sin(angle) * yy) / period
        pattern = (np.sin(2 * np.pi * phase) > 0.2).astype(np.float32)
    else:
        pattern = (_smooth_field(rng, size, int(rng.integers(10, 18)))[..., 0] > 0.62).astype(np.float32)
    pattern = pattern[..., None]
    return colour * (1 - pattern) + dark * pattern


def _part_mask(rng, size, centre, radius, shape):
    """Mask of the class's part (and of its dark/bright inner detail) around ``centre``."""
    mask = np.zeros((size, size), np.uint8)
    detail = np.zeros((size, size), np.uint8)
    cx, cy = centre
    shift = 4  # sub-pixel precision of cv2 drawing
    to_fixed = lambda p: np.round(np.asarray(p) * (1 << shift)).astype(np.int32)  # noqa: E731
    rotation = rng.uniform(0, 2 * np.pi)
    if shape == 'disk':
        cv2.circle(mask, tuple(to_fixed((cx, cy))), int(radius * (1 << shift)), 1, -1, cv2.LINE_8, shift)
        cv2.circle(detail, tuple(to_fixed((cx, cy))), int(0.35 * radius * (1 << shift)), 1, -1, cv2.LINE_8,
                   shift)
    elif shape in ('triangle', 'square'):
        corners = 3 if shape == 'triangle' else 4
        # circumradius giving the same area as a disk of ``radius``
        scale = radius * (1.555 if corners == 3 else 1.2533)
        angles = rotation + 2 * np.pi * np.arange(corners) / corners
        pts = np.stack([cx + scale * np.cos(angles), cy + scale * np.sin(angles)], 1)
        cv2.fillPoly(mask, [to_fixed(pts)], 1, cv2.LINE_8, shift)
        if shape == 'square':
            inner = np.stack([cx + 0.4 * scale * np.cos(angles), cy + 0.4 * scale * np.sin(angles)], 1)
            cv2.fillPoly(detail, [to_fixed(inner)], 1, cv2.LINE_8, shift)
    else:  # ring
        outer = radius * 1.05
        cv2.circle(mask, tuple(to_fixed((cx, cy))), int(outer * (1 << shift)), 1, -1, cv2.LINE_8, shift)
        cv2.circle(detail, tuple(to_fixed((cx, cy))), int(0.45 * outer * (1 << shift)), 1, -1, cv2.LINE_8,
                   shift)
    return mask.astype(bool), detail.astype(bool)


def _sample_object(rng, size, class_index, others):
    """Body and part masks of one object, placed away from ``others`` (centres, radii)."""
    for _ in range(50):
        axes = rng.uniform(0.13, 0.24, 2) * size
        centre = rng.uniform(0.22, 0.78, 2) * size
        mean_r = float(np.sqrt(axes[0] * axes[1]))
        if any(np.hypot(*(centre - c)) < 0.8 * (mean_r + r) for c, r in others):
            continue
        angle = rng.uniform(0, np.pi)
        body, rim_point = _body_mask(rng, size, centre, axes, angle)
        part_radius = float(np.sqrt(rng.uniform(*_PART_AREA_FRACTION) * axes[0] * axes[1]))
        phi = rng.uniform(0, 2 * np.pi)
        rim = np.array(rim_point(phi))
        # part centre just inside the rim so that the part sticks out like a head
        part_centre = rim + (centre - rim) * (0.5 * part_radius / max(np.hypot(*(rim - centre)), 1e-6))
        margin = part_radius + 1
        if not (margin <= part_centre[0] <= size - 1 - margin and margin <= part_centre[1] <= size - 1 - margin):
            continue
        part, detail = _part_mask(rng, size, part_centre, part_radius, _PARTS[class_index][1])
        return dict(body=body, part=part, detail=detail, centre=centre, radius=mean_r)
    raise RuntimeError('could not place an object (image too small?)')


def render_image(rng, size):
    """One synthetic image: (RGB uint8 (S, S, 3), class-index mask uint8 (S, S) without void border)."""
    image = _background(rng, size)
    label = np.zeros((size, size), np.uint8)
    num_objects = 1 if rng.random() < 0.55 else 2
    first = int(rng.integers(1, len(EMBEDDED_CLASSES)))
    classes = [first]
    if num_objects == 2:
        classes.append(first if rng.random() < 0.5 else
                       int(rng.choice([c for c in range(1, len(EMBEDDED_CLASSES)) if c != first])))
    placed = []
    for class_index in classes:
        obj = _sample_object(rng, size, class_index, placed)
        placed.append((obj['centre'], obj['radius']))
        part_colour = np.array(_PARTS[class_index][0], np.float32)
        base = _hsv_to_rgb(rng.random(), rng.uniform(0.3, 0.65), rng.uniform(0.45, 0.85))
        body_colour = np.clip(base + _CLASS_TINT_STRENGTH * (part_colour - base), 0, 255)
        texture = _body_texture(rng, size, body_colour)
        image[obj['body']] = texture[obj['body']]
        image[obj['part']] = part_colour
        if _PARTS[class_index][1] == 'ring':
            image[obj['detail']] = (245, 245, 245)
        else:
            image[obj['detail']] = (25, 20, 20)
        label[obj['body'] | obj['part']] = class_index
    image = cv2.GaussianBlur(image, (0, 0), 0.6)
    image += rng.normal(0, 4, image.shape).astype(np.float32)
    return np.clip(np.round(image), 0, 255).astype(np.uint8), label


def add_void_border(label, width=1):
    """VOC-style 255 band on the boundaries between different labels (``width`` px each side)."""
    kernel = np.ones((2 * width + 1, 2 * width + 1), np.uint8)
    high = cv2.dilate(label, kernel)
    low = cv2.erode(label, kernel)
    out = label.copy()
    out[high != low] = IGNORE_INDEX
    return out


def _png_bytes(label, palette):
    image = Image.fromarray(label).convert('P')
    flat = [c for colour in palette for c in colour]
    image.putpalette(flat + [0] * (768 - len(flat)))
    buffer = io.BytesIO()
    image.save(buffer, format='PNG')
    return buffer.getvalue()


def _jpeg_bytes(image):
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format='JPEG', quality=92)
    return buffer.getvalue()


def _write(path, data):
    with open(path, 'wb') as f:
        f.write(data)


def _expected_params(num_train, num_train_subset, num_val, image_size, seed):
    return dict(generator_version=GENERATOR_VERSION, num_train=num_train, num_train_subset=num_train_subset,
                num_val=num_val, image_size=image_size, seed=seed, classes=list(EMBEDDED_CLASSES))


def _is_complete(voc_dir, params):
    """True when ``voc_dir`` holds a finished generation with these parameters and all its files."""
    manifest_path = osp.join(voc_dir, MANIFEST_NAME)
    if not osp.isfile(manifest_path):
        return False
    try:
        with open(manifest_path) as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return False
    if manifest.get('params') != params:
        return False
    for split, ids in manifest.get('splits', {}).items():
        if not osp.isfile(osp.join(voc_dir, 'ImageSets', 'Segmentation', split + '.txt')):
            return False
    ids = manifest['splits']['train_aug'] + manifest['splits']['val']
    return (osp.isfile(osp.join(voc_dir, 'cls_labels.npy'))
            and all(osp.isfile(osp.join(voc_dir, 'JPEGImages', i + '.jpg'))
                    and osp.isfile(osp.join(voc_dir, 'SegmentationClassAug', i + '.png')) for i in ids))


def _readme_text(params, counts):
    names = ', '.join(f'{i}={c}' for i, c in enumerate(EMBEDDED_CLASSES))
    parts = '\n'.join(f'  {EMBEDDED_CLASSES[c]}: {shape} part, RGB {colour}' for c, (colour, shape) in _PARTS.items())
    return f"""Embedded default dataset of advcam_mm (synthetic, generated; nothing downloaded)
===============================================================================

Made by advcam_mm.datasets.embedded_dataset.make_embedded_voc / tools/make_embedded_dataset.py
with seed={params['seed']}, image_size={params['image_size']}, generator version {params['generator_version']}.
Same arguments -> same bytes.

Layout (PASCAL VOC 2012): VOCdevkit/VOC2012/
  JPEGImages/<id>.jpg                 RGB images
  SegmentationClass/<id>.png          class-index palette PNGs of train and val, 255 = void border
  SegmentationClassAug/<id>.png       class-index PNGs of train_aug and val (void border only on train/val ids)
  ImageSets/Segmentation/*.txt        train ({counts['train']}) is a subset of train_aug ({counts['train_aug']});
                                      val ({counts['val']}); trainval = train + val
  cls_labels.npy                      dict id -> float32 multi-hot over the foreground classes
  {MANIFEST_NAME}              written last: parameters and ids of a complete generation

Classes (mask values): {names}.
Each object is a large textured body whose colour is shared by all classes (a slight class tint only)
plus a small class-specific part (10-15 % of the body area) on its rim:
{parts}
The mask labels the whole object (body + part), so a classifier's CAM, drawn to the part, misses the body:
the gap AdvCAM closes.
"""


def make_embedded_voc(out_root, num_train=160, num_val=40, num_train_subset=60, image_size=128, seed=0,
                      force=False):
    """Generate the embedded dataset under ``out_root`` and return its ``VOC2012`` folder.

    Deterministic in its arguments (byte-identical files for the same
    arguments on the same library versions). Idempotent: returns at once when
    a complete generation with the same arguments is there (its manifest is
    written last). The tree is written into a temporary sibling folder and
    renamed into place, so an interrupted run never leaves a half dataset at
    the final path. An existing ``VOC2012`` folder that was not made by this
    generator is never overwritten unless ``force``.

    Args:
        out_root (str): output folder; the dataset goes to ``out_root/VOCdevkit/VOC2012``.
        num_train (int): images in ``train_aug``.
        num_val (int): images in ``val``.
        num_train_subset (int): the first this many ``train_aug`` ids form ``train``.
        image_size (int): square image side in pixels (>= 64).
        seed (int): random seed.
        force (bool): regenerate even if complete, and replace a foreign folder.
    """
    if num_train < 1 or num_val < 1:
        raise ValueError(f'make_embedded_voc: num_train and num_val must be >= 1, got {num_train}, {num_val}')
    if image_size < 64:
        raise ValueError(f'make_embedded_voc: image_size must be >= 64, got {image_size}')
    num_train_subset = max(1, min(num_train_subset, num_train))
    params = _expected_params(num_train, num_train_subset, num_val, image_size, seed)
    out_root = os.fspath(out_root)
    devkit = osp.join(out_root, 'VOCdevkit')
    voc_dir = osp.join(devkit, 'VOC2012')
    if not force and _is_complete(voc_dir, params):
        _write_readme(out_root, params)
        return voc_dir
    os.makedirs(devkit, exist_ok=True)
    with _generation_lock(devkit):  # several processes (e.g. distributed ranks) may ask at once
        if not force and _is_complete(voc_dir, params):
            _write_readme(out_root, params)
            return voc_dir
        if osp.exists(voc_dir) and not force and not osp.isfile(osp.join(voc_dir, MANIFEST_NAME)) \
                and os.listdir(voc_dir):
            raise FileExistsError(f'make_embedded_voc: {voc_dir} exists and was not made by this generator '
                                  f'(no {MANIFEST_NAME}); pass force=True (--force) to replace it')
        for stale in os.listdir(devkit):  # left by a killed run (only the lock holder writes them)
            if stale.startswith('.VOC2012.') and stale.endswith('.tmp'):
                shutil.rmtree(osp.join(devkit, stale), ignore_errors=True)
        work = tempfile.mkdtemp(prefix='.VOC2012.', suffix='.tmp', dir=devkit)
        try:
            _generate_into(work, params)
            if osp.exists(voc_dir):
                shutil.rmtree(voc_dir)
            os.replace(work, voc_dir)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        _write_readme(out_root, params, force=True)
    return voc_dir


@contextlib.contextmanager
def _generation_lock(folder):
    """Exclusive lock on ``folder/.embedded.lock`` (POSIX ``flock``; no-op where unavailable)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover (Windows)
        yield
        return
    with open(osp.join(folder, '.embedded.lock'), 'a') as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_readme(out_root, params, force=False):
    path = osp.join(out_root, 'README.txt')
    if force or not osp.isfile(path):
        counts = dict(train=params['num_train_subset'], train_aug=params['num_train'], val=params['num_val'])
        with atomic_write(path, 'w') as f:
            f.write(_readme_text(params, counts))


def _generate_into(root, params):
    size, seed = params['image_size'], params['seed']
    for sub in ('JPEGImages', 'SegmentationClass', 'SegmentationClassAug', 'ImageSets/Segmentation'):
        os.makedirs(osp.join(root, sub), exist_ok=True)
    train_aug = [f'train_{i:04d}' for i in range(params['num_train'])]
    val = [f'val_{i:04d}' for i in range(params['num_val'])]
    train = train_aug[:params['num_train_subset']]
    with_void = set(train) | set(val)  # ids that VOC's own SegmentationClass covers
    labels = {}
    digest = hashlib.sha256()
    for split_code, ids in ((0, train_aug), (1, val)):
        for index, image_id in enumerate(ids):
            rng = np.random.default_rng([seed, split_code, index])
            image, label = render_image(rng, size)
            mask = add_void_border(label) if image_id in with_void else label
            labels[image_id] = class_labels_of_mask(mask, len(EMBEDDED_CLASSES))
            jpg = _jpeg_bytes(image)
            digest.update(jpg)
            _write(osp.join(root, 'JPEGImages', image_id + '.jpg'), jpg)
            aug = _png_bytes(mask, EMBEDDED_PALETTE)
            _write(osp.join(root, 'SegmentationClassAug', image_id + '.png'), aug)
            if image_id in with_void:
                _write(osp.join(root, 'SegmentationClass', image_id + '.png'), aug)
    splits = dict(train=train, train_aug=train_aug, val=val, trainval=train + val)
    for name, ids in splits.items():
        _write(osp.join(root, 'ImageSets', 'Segmentation', name + '.txt'), ''.join(i + '\n' for i in ids).encode())
    buffer = io.BytesIO()
    np.save(buffer, {k: v for k, v in labels.items()}, allow_pickle=True)
    _write(osp.join(root, 'cls_labels.npy'), buffer.getvalue())
    manifest = dict(params=params, splits=splits, images_sha256=digest.hexdigest())
    _write(osp.join(root, MANIFEST_NAME), json.dumps(manifest, indent=1).encode())
    return splits


def generation_params(num_train=160, num_val=40, num_train_subset=60, image_size=128, seed=0):
    """The parameters :func:`make_embedded_voc` records for these arguments (its defaults otherwise)."""
    return _expected_params(num_train, max(1, min(num_train_subset, num_train)), num_val, image_size, seed)


def is_complete(voc_dir, params):
    """True when ``voc_dir`` holds a finished generation with ``params`` and all its files."""
    return _is_complete(voc_dir, params)
