"""The embedded default dataset: a small, deterministic, VOC-layout miniature of PASCAL VOC.

It is the only data on which a test or ``make demo`` can show that each stage
of AdvCAM (Lee et al., CVPR 2021) *does its job*, so each property below is
chosen to keep what makes a stage work on VOC, and written beside the VOC
figure it mirrors. Sizes are fractions of the image side ``S`` (128 by
default), so the miniature looks the same at any size; a VOC image is about
500 x 375 (a stride-4 grid of 125 x 94 cells, geometric-mean side
``VOC_IMAGE_SIDE`` = 433 px), and the embedded configs rescale every setting
measured in pixels or grid cells by ``S / VOC_IMAGE_SIDE`` (their comments
give each rule).

* **Classes and objects per image.** VOC 2012 ``train_aug`` has 1.56 classes
  per image (59.1 / 29.3 / 9.2 / 2.4 % of images with 1 / 2 / 3 / 4+ classes:
  IRN's ``voc12/cls_labels.npy`` over its 10,582 ids) and VOC's segmentation
  set 2.38 objects per image (6,929 objects in 2,913 images, devkit Table 2).
  Here the number of classes follows ``CLASSES_PER_IMAGE`` (the same shares,
  4+ merged) and each present class has ``1 + Geometric`` objects with
  ``P(another) = EXTRA_OBJECT_PROBABILITY`` = 0.35 (1.54 per class, 2.4 per
  image before the cap of 6; measured 1.48-1.59 classes and 2.28-2.38 objects
  per image over generator seeds 0-2).
* **Object size.** A photo's subject plus smaller objects: the first object
  covers a log-uniform 12-45 % of the image, every further one 3-15 %; 30-31 %
  of the pixels are foreground (VOC's background is commonly quoted at ~70 %
  of the pixels; not measured here). At 128 px
  an object is 6.5-17 stride-4 cells across (10th-90th percentile; VOC's
  objects, 3.4x larger in pixels, span 3.4x more cells) - the factor
  S / 433 that the embedded configs undo where a setting is measured in
  pixels or cells.
* **Occlusion and truncation.** Objects may overlap (centres at least 0.6 of
  the sum of their radii apart) and are drawn in order, later ones in front;
  13-18 % of objects lose more than a tenth of their area to a later one.
  Centres lie anywhere in the central 80 % of the image, so about half of the
  objects touch the border (VOC: occluded and truncated objects are common).
* **What a CAM covers: a discriminative part, a body with weaker evidence.**
  On 80 % of objects (``PART_VISIBLE``; the rest have it hidden, as a
  turned-away or occluded head) a small part (12-20 % of the body's area) of a
  saturated colour and shape unique to the class sits on the rim: the most
  discriminative region, as a face. The part joins its body as a head joins
  its neck, without a contour of its own: inside the body its colour fades
  out over about its radius (``PART_FEATHER``: a Gaussian feather of 0.6 of
  the part's radius; where it sticks out of the body it keeps its full colour
  up to the object's rim). This is the falloff of a CAM around its peak, and
  it leaves no edge between part and body for IRNet to learn as a boundary:
  with a sharp-edged part (version 2) the IR labels mark the part confident
  foreground and the body around it confident background, and IRNet learns
  the part's rim as a boundary (masks below seed + CRF on draw 2;
  docs/embedded_miniature.md). The body carries weaker class evidence
  spread over all of it: its class's texture family (spots, stripes, checks,
  rings; regular patterns, since irregular blobs are learnt as boundaries) and,
  on half of the objects (``TYPICAL_HUE_PROBABILITY``), the class's typical
  hue (as a sheep is usually white), any hue otherwise. A classifier's CAM
  thus peaks on the part and falls off over the body: with the embedded
  classifier the best seed threshold is 0.15-0.24 for CAM and 0.17-0.29 for
  AdvCAM over generator seeds 0-2, CAM seeds 49-57 mIoU (VOC: ~0.16 and 48.8
  for CAM; AdvCAM's own sweep spans 0.15-0.34), where version 1 (a part and a
  body without class evidence) left half of every object below 0.15. In
  version 2, with the typical hue on 75 % of objects the CAM already covered
  the bodies (AdvCAM added little); with a body texture that fades away from
  the part, it covered half of them (docs/embedded_miniature.md).
* **Texture inside objects, contrast against the background.** Bodies are
  saturated two-tone textures (tones 35 % apart in value) whose hue drifts by
  up to +-0.08 across the body, under a faint mottling: a dense CRF, which
  joins pixels of similar colour, cannot fill a body from a seed on its own.
  Backgrounds are muted, low-contrast blends with a fine grain, flat clutter
  shapes and lines (edges that are not object boundaries), 30 % of them
  colourful distractors. The change of saturation and texture at an object's
  rim is what IRNet's boundary branch learns from confident
  foreground/background pairs.
* **Void borders.** ``SegmentationClass`` marks a 255 band along every label
  boundary, ``void_band_width(S)`` = round(5 * S / 500) px wide (at least 1),
  VOC's ~5 px at ~500 px; ``SegmentationClassAug`` has it only on ``train``
  and ``val`` ids (like SBD's masks).

Class names are deliberately not VOC names: mmseg's stock PascalVOCDataset
remaps labels by name, which would silently scramble these masks; with foreign
names it raises instead. :func:`render_scene` (one image with its instances)
is also the generator of the COCO-layout miniature.

On disk it is VOC: ``<out_root>/VOCdevkit/VOC2012/{JPEGImages/*.jpg,
SegmentationClass/*.png, SegmentationClassAug/*.png,
ImageSets/Segmentation/{train,train_aug,val,trainval}.txt, cls_labels.npy}``,
the manifest written last, the tree renamed into place.
"""
import hashlib
import io
import json
import os
import os.path as osp

import cv2
import numpy as np
from PIL import Image

from ..core.labels import IGNORE_INDEX
from ..fileio.atomic import atomic_write
from ..fileio.generated_folder import generate_folder, generated_manifest
from ..fileio.label_png import voc_palette
from .cls_labels import class_labels_of_mask

EMBEDDED_CLASSES = ('background', 'beetle', 'kite', 'lantern', 'snail')
EMBEDDED_PALETTE = voc_palette(len(EMBEDDED_CLASSES))

GENERATOR_VERSION = 3  # 3: the part fades into its body (PART_FEATHER)
MANIFEST_NAME = 'embedded_manifest.json'

#: Geometric-mean side of a VOC image (500 x 375 px): the unit of the derived settings.
VOC_IMAGE_SIDE = 433
#: Share of images with 1, 2, 3, 4 classes (VOC 2012 train_aug: 59.1 / 29.3 / 9.2 / 2.4 %, 4+ merged).
CLASSES_PER_IMAGE = (0.591, 0.293, 0.092, 0.024)
#: Probability of one more object of a present class (1.54 objects per class, 2.4 per image).
EXTRA_OBJECT_PROBABILITY = 0.35
MAX_OBJECTS = 6
#: Area of the first object (the photo's subject) and of every further one, as a fraction of the
#: image: log-uniform in these ranges.
SUBJECT_AREA = (0.12, 0.45)
OTHER_AREA = (0.03, 0.15)
#: Part area as a fraction of the body area, and the share of objects whose part is visible.
PART_AREA = (0.12, 0.20)
PART_VISIBLE = 0.8
#: Width of the part's fade into its body: the Gaussian sigma of its colour's weight, in part radii.
PART_FEATHER = 0.6
#: Contrast of the class-independent mottling laid over the class texture of a body, and the
#: relative value difference of the body's two tones.
MOTTLE_CONTRAST = 0.3
BODY_TONE_CONTRAST = 0.35
#: Share of objects whose body has their class's typical hue, and the hue's drift across a body.
TYPICAL_HUE_PROBABILITY = 0.5
BODY_HUE_DRIFT = 0.08
#: Share of the background's clutter shapes that are saturated (colourful distractors).
SATURATED_CLUTTER = 0.3

#: Strongly class-specific part: (RGB colour, shape) per foreground class.
_PARTS = {
    1: ((235, 25, 25), 'disk'),       # beetle: red round head with a dark eye
    2: ((250, 215, 10), 'triangle'),  # kite: yellow triangle
    3: ((15, 215, 235), 'square'),    # lantern: cyan square with a dark core
    4: ((225, 25, 225), 'ring'),      # snail: magenta ring with a white core
}
#: Class-specific body texture family, and typical body hue (away from every part colour) per class.
_TEXTURES = {1: 'spots', 2: 'stripes', 3: 'checks', 4: 'rings'}
_BODY_HUES = {1: 0.08, 2: 0.33, 3: 0.62, 4: 0.73}


def void_band_width(size):
    """Width in px of the 255 band on label boundaries: VOC's ~5 px at ~500 px, scaled (>= 1)."""
    return max(1, int(round(5 * size / 500)))


def _smooth_field(rng, size, cells, channels=1):
    """Low-frequency noise in [0, 1]: a random coarse grid upsampled bicubically."""
    grid = rng.random((cells, cells, channels)).astype(np.float32)
    field = cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)
    return np.clip(field.reshape(size, size, channels), 0, 1)


def _hsv_to_rgb(h, s, v):
    hsv = np.array([[[h * 179.0, s * 255.0, v * 255.0]]], dtype=np.float32)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def _muted_colour(rng):
    return _hsv_to_rgb(rng.random(), rng.uniform(0.03, 0.30), rng.uniform(0.30, 0.80))


def _background(rng, size):
    """Muted, low-contrast background: blended colours, a faint fine grain, flat clutter shapes and lines."""
    c1, c2 = _muted_colour(rng), _muted_colour(rng)
    blend = _smooth_field(rng, size, int(rng.integers(3, 6)))
    image = c1 * blend + c2 * (1 - blend)
    image += (_smooth_field(rng, size, max(4, size // 6)) - 0.5) * rng.uniform(6, 18)
    for _ in range(rng.integers(4, 10)):
        if rng.random() < SATURATED_CLUTTER:  # a colourful distractor, as VOC's backgrounds have
            colour = tuple(float(c) for c in _hsv_to_rgb(rng.random(), rng.uniform(0.4, 0.8), rng.uniform(0.5, 0.9)))
        else:
            colour = tuple(float(c) for c in _muted_colour(rng))
        layer = np.zeros((size, size), np.uint8)
        x, y = (int(v) for v in rng.integers(0, size, 2))
        extent = int(rng.integers(size // 16, size // 4))
        kind = rng.integers(4)
        if kind == 0:
            cv2.rectangle(layer, (x, y), (x + extent, y + int(rng.integers(3, extent + 4))), 1, -1)
        elif kind == 1:
            cv2.circle(layer, (x, y), extent // 2, 1, -1)
        elif kind == 2:
            x2, y2 = (int(v) for v in rng.integers(0, size, 2))
            cv2.line(layer, (x, y), (x2, y2), 1, max(1, int(rng.integers(1, 4) * size / 128)))
        else:
            pts = rng.integers(-extent, extent + 1, (int(rng.integers(3, 6)), 2)) + [x, y]
            cv2.fillPoly(layer, [pts.astype(np.int32)], 1)
        image[layer > 0] = colour
    return image


def _blob(rng, size, centre, axes, angle):
    """A blob (an ellipse whose radius is modulated by low harmonics) and its rim as a function of angle."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    dx, dy = xx - centre[0], yy - centre[1]
    cos, sin = np.cos(angle), np.sin(angle)
    u, v = cos * dx + sin * dy, -sin * dx + cos * dy
    theta = np.arctan2(v / axes[1], u / axes[0])
    harmonics = [(k, rng.uniform(0.03, 0.10), rng.uniform(0, 2 * np.pi)) for k in (2, 3, 5)]
    wobble = 1 + sum(a * np.sin(k * theta + p) for k, a, p in harmonics)
    mask = np.sqrt((u / axes[0]) ** 2 + (v / axes[1]) ** 2) <= wobble

    def rim_point(phi):
        w = 1 + sum(a * np.sin(k * phi + p) for k, a, p in harmonics)
        bu, bv = axes[0] * w * np.cos(phi), axes[1] * w * np.sin(phi)
        return np.array([centre[0] + cos * bu - sin * bv, centre[1] + sin * bu + cos * bv])

    return mask, rim_point


def _texture_pattern(rng, size, family, centre):
    """Binary (S, S) pattern of a texture family; periods scale with the image (5-10 px at 128)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    period = rng.uniform(5, 10) * size / 128
    angle = rng.uniform(0, np.pi)
    u = np.cos(angle) * xx + np.sin(angle) * yy
    v = -np.sin(angle) * xx + np.cos(angle) * yy
    if family == 'stripes':
        return np.sin(2 * np.pi * u / period) > 0
    if family == 'checks':
        return np.sin(2 * np.pi * u / period) * np.sin(2 * np.pi * v / period) > 0
    if family == 'rings':
        radius = np.hypot(xx - centre[0], yy - centre[1])
        return np.sin(2 * np.pi * radius / period) > 0
    # spots: a rotated lattice of round dots (a regular texture; random blobs would look like object edges)
    cu = np.mod(u, period) - period / 2
    cv = np.mod(v, period) - period / 2
    return np.hypot(cu, cv) < 0.3 * period


def _body_tones(rng, category, size):
    """Two (S, S, 3) tone images of one saturated hue, ``BODY_TONE_CONTRAST`` apart in value.

    The hue is the class's typical one (``_BODY_HUES``, +-0.05) on
    ``TYPICAL_HUE_PROBABILITY`` of objects and any hue otherwise: class
    evidence spread over the whole body, weaker than the part's. It drifts by
    up to +-``BODY_HUE_DRIFT`` across the body (smoothly), so a body is not
    one colour.
    """
    if rng.random() < TYPICAL_HUE_PROBABILITY:
        hue = (_BODY_HUES[category] + rng.uniform(-0.05, 0.05)) % 1.0
    else:
        hue = rng.random()
    saturation, value = rng.uniform(0.5, 0.9), rng.uniform(0.7, 0.95)
    hues = (hue + BODY_HUE_DRIFT * 2 * (_smooth_field(rng, size, 3)[..., 0] - 0.5)) % 1.0
    hsv = np.stack([hues * 179.0, np.full_like(hues, saturation * 255.0), np.full_like(hues, value * 255.0)], -1)
    light = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
    hsv[..., 2] *= 1 - BODY_TONE_CONTRAST
    dark = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
    return light, dark


def _part_masks(rng, size, centre, radius, shape):
    """Mask of the class's part and of its inner detail (dark eye / core, white core of the ring)."""
    mask = np.zeros((size, size), np.uint8)
    detail = np.zeros((size, size), np.uint8)
    shift = 4  # sub-pixel precision of cv2 drawing

    def fixed(p):
        return tuple(int(v) for v in np.round(np.asarray(p) * (1 << shift)))

    cx, cy = centre
    if shape in ('disk', 'ring'):
        outer = radius * (1.05 if shape == 'ring' else 1.0)
        inner = outer * (0.45 if shape == 'ring' else 0.35)
        cv2.circle(mask, fixed((cx, cy)), int(outer * (1 << shift)), 1, -1, cv2.LINE_8, shift)
        cv2.circle(detail, fixed((cx, cy)), int(inner * (1 << shift)), 1, -1, cv2.LINE_8, shift)
    else:
        corners = 3 if shape == 'triangle' else 4
        scale = radius * (1.555 if corners == 3 else 1.2533)  # same area as a disk of ``radius``
        angles = rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.arange(corners) / corners
        pts = np.stack([cx + scale * np.cos(angles), cy + scale * np.sin(angles)], 1)
        cv2.fillPoly(mask, [np.round(pts * (1 << shift)).astype(np.int32)], 1, cv2.LINE_8, shift)
        if shape == 'square':
            inner = np.stack([cx + 0.4 * scale * np.cos(angles), cy + 0.4 * scale * np.sin(angles)], 1)
            cv2.fillPoly(detail, [np.round(inner * (1 << shift)).astype(np.int32)], 1, cv2.LINE_8, shift)
    return mask.astype(bool), detail.astype(bool)


def _scene_categories(rng, num_classes):
    """Object categories of one image (VOC's classes-per-image shares, geometric extra objects)."""
    count = 1 + int(rng.choice(len(CLASSES_PER_IMAGE), p=np.asarray(CLASSES_PER_IMAGE) / sum(CLASSES_PER_IMAGE)))
    classes = [int(c) for c in rng.choice(np.arange(1, num_classes + 1), size=min(count, num_classes),
                                          replace=False)]
    categories = []
    for c in classes:
        categories.append(c)
        while rng.random() < EXTRA_OBJECT_PROBABILITY:
            categories.append(c)
    categories = categories[:MAX_OBJECTS]
    rng.shuffle(categories)
    return categories


def _place(rng, size, radius, placed):
    """A centre in the central 80 % at least 0.6 * (r + r_other) from every placed object.

    After every 20 failed draws the object shrinks by 15 %; returns ``(centre, radius)``.
    """
    for attempt in range(200):
        if attempt and attempt % 20 == 0:
            radius *= 0.85
        centre = rng.uniform(0.1, 0.9, 2) * size
        if all(np.hypot(*(centre - c)) >= 0.6 * (radius + r) for c, r in placed):
            return centre, radius
    return None, radius


def render_scene(rng, size):
    """One image with its objects, drawn in list order (later objects occlude earlier ones).

    Args:
        rng (numpy.random.Generator): the only source of randomness.
        size (int): square image side in pixels.

    Returns:
        dict: ``image`` uint8 (S, S, 3) RGB; ``label`` uint8 (S, S), the visible
        class per pixel (0 = background, no void band); ``instances``: list of
        ``dict(category=int 1..K, mask=bool (S, S))``, each mask the object's
        full extent before occlusion, in drawing order.
    """
    num_classes = len(EMBEDDED_CLASSES) - 1
    image = _background(rng, size)
    label = np.zeros((size, size), np.uint8)
    categories = _scene_categories(rng, num_classes)
    instances, placed = [], []
    for index, category in enumerate(categories):
        area = np.exp(rng.uniform(*np.log(OTHER_AREA if index else SUBJECT_AREA))) * size * size
        centre, radius = _place(rng, size, float(np.sqrt(area / np.pi)), placed)
        if centre is None:  # no room left: fewer objects (only in crowded draws)
            continue
        area = np.pi * radius ** 2
        aspect = rng.uniform(0.6, 1.0)
        axes = radius * np.array([1 / np.sqrt(aspect), np.sqrt(aspect)])
        placed.append((centre, radius))
        body, rim_point = _blob(rng, size, centre, axes, rng.uniform(0, np.pi))
        light, dark = _body_tones(rng, category, size)
        pattern = _texture_pattern(rng, size, _TEXTURES[category], centre).astype(np.float32)
        mottle = _smooth_field(rng, size, max(4, size // 10))[..., 0]  # class-independent variation
        weight = np.clip(pattern + MOTTLE_CONTRAST * (mottle - 0.5), 0, 1)[..., None]
        extent = body.copy()
        image[body] = (light * (1 - weight) + dark * weight)[body]
        if rng.random() < PART_VISIBLE:
            colour, shape = _PARTS[category]
            part_radius = float(np.sqrt(rng.uniform(*PART_AREA) * area / np.pi))
            rim = rim_point(rng.uniform(0, 2 * np.pi))
            # the part's centre just inside the rim, so that it sticks out like a head
            inward = (centre - rim) / max(float(np.hypot(*(centre - rim))), 1e-6)
            part, detail = _part_masks(rng, size, rim + 0.5 * part_radius * inward, part_radius, shape)
            # the colour's weight: blurred over the body, at least 1/2 on the part, full outside the body
            alpha = cv2.GaussianBlur(part.astype(np.float32), (0, 0), PART_FEATHER * part_radius)
            alpha = np.where(part & ~body, 1.0, np.where(part, np.maximum(alpha, 0.5), alpha))
            inside = body | part
            weight = alpha[inside][:, None]
            image[inside] = image[inside] * (1 - weight) + np.asarray(colour, np.float32) * weight
            image[detail] = (245, 245, 245) if shape == 'ring' else (25, 20, 20)
            extent |= part
        if not extent.any():
            continue
        label[extent] = category
        instances.append(dict(category=int(category), mask=extent))
    image = cv2.GaussianBlur(image, (0, 0), 0.6 * size / 128)
    image += rng.normal(0, 4, image.shape).astype(np.float32)
    return dict(image=np.clip(np.round(image), 0, 255).astype(np.uint8), label=label, instances=instances)


def add_void_border(label, width=1):
    """VOC-style 255 band, ``width`` px wide, on the boundaries between different labels.

    A pixel is void when another label lies within ``width / 2`` px of it
    (Chebyshev distance, rounded so that width 1 marks the rim of the label
    with the larger value and width 2 both rims).
    """
    out = label.copy()
    reach = width // 2
    if reach:
        kernel = np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)
        out[cv2.dilate(label, kernel) != cv2.erode(label, kernel)] = IGNORE_INDEX
    if width % 2:  # the odd pixel goes on the larger label's side
        kernel = np.ones((2 * reach + 3, 2 * reach + 3), np.uint8) if reach else np.ones((3, 3), np.uint8)
        smaller_near = cv2.erode(label, kernel) < label
        out[smaller_near] = IGNORE_INDEX
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


def is_complete(voc_dir, params):
    """True when ``voc_dir`` holds a finished generation with these parameters and all its files."""
    manifest = generated_manifest(voc_dir, MANIFEST_NAME, params)
    if manifest is None or not all(osp.isfile(osp.join(voc_dir, 'ImageSets', 'Segmentation', split + '.txt'))
                                   for split in manifest.get('splits', {})):
        return False
    ids = manifest['splits']['train_aug'] + manifest['splits']['val']
    return (osp.isfile(osp.join(voc_dir, 'cls_labels.npy'))
            and all(osp.isfile(osp.join(voc_dir, 'JPEGImages', i + '.jpg'))
                    and osp.isfile(osp.join(voc_dir, 'SegmentationClassAug', i + '.png')) for i in ids))


def _readme_text(params, counts, stats):
    names = ', '.join(f'{i}={c}' for i, c in enumerate(EMBEDDED_CLASSES))
    parts = '\n'.join(f'  {EMBEDDED_CLASSES[c]}: {shape} part, RGB {colour}; own body texture: {_TEXTURES[c]}'
                      for c, (colour, shape) in _PARTS.items())
    size = params['image_size']
    return f"""Embedded default dataset of advcam_mm (synthetic, generated; nothing downloaded)
===============================================================================

Made by advcam_mm.datasets.embedded_dataset.make_embedded_voc / tools/make_embedded_dataset.py
with seed={params['seed']}, image_size={size}, generator version {params['generator_version']}.
Same arguments -> same bytes.

Layout (PASCAL VOC 2012): VOCdevkit/VOC2012/
  JPEGImages/<id>.jpg                 RGB images
  SegmentationClass/<id>.png          class-index palette PNGs of train and val, 255 = void band
  SegmentationClassAug/<id>.png       class-index PNGs of train_aug and val (void band only on train/val ids)
  ImageSets/Segmentation/*.txt        train ({counts['train']}) is a subset of train_aug ({counts['train_aug']});
                                      val ({counts['val']}); trainval = train + val
  cls_labels.npy                      dict id -> float32 multi-hot over the foreground classes
  {MANIFEST_NAME}              written last: parameters, ids and statistics of a complete generation

Classes (mask values): {names}.
{parts}

What it keeps of VOC (measured over this generation; VOC's figure in brackets):
  classes per image      {stats['classes_per_image']:.2f}   [1.56, VOC 2012 train_aug, IRN's cls_labels.npy]
  objects per image      {stats['objects_per_image']:.2f}   [2.38, VOC 2012 segmentation trainval, devkit Table 2]
  foreground pixels      {100 * stats['foreground_fraction']:.0f} %   [~30 %: VOC's background is commonly quoted at ~70 %]
  object width           {stats['object_cells_p10']:.0f}-{stats['object_cells_p90']:.0f} stride-4 cells (10th-90th percentile)
                         [{VOC_IMAGE_SIDE / size:.1f}x more: VOC images are ~{VOC_IMAGE_SIDE} px, these {size} px]
  occluded objects       {100 * stats['occluded_fraction']:.0f} % lose > 10 % of their area to a later object
  truncated objects      {100 * stats['truncated_fraction']:.0f} % touch the image border
  void band              {void_band_width(size)} px   [~5 px at ~500 px]
Each object: a saturated two-tone body in its class's texture family (and, on {100 * TYPICAL_HUE_PROBABILITY:.0f} % of objects,
its class's typical hue): weak class evidence over the whole body; and, on {100 * PART_VISIBLE:.0f} % of
objects, a small class-specific part ({100 * PART_AREA[0]:.0f}-{100 * PART_AREA[1]:.0f} % of the body area: strong evidence) on
its rim; on a muted, low-contrast, cluttered background ({100 * SATURATED_CLUTTER:.0f} % of the clutter colourful).
The mask labels the whole object, so a CAM peaks on the part and falls off over the body:
the gap AdvCAM closes. Settings measured in pixels or grid cells are rescaled by {size}/{VOC_IMAGE_SIDE}
in configs/_base_/datasets/embedded_scale.py.
"""


def scene_statistics(scenes):
    """The figures the README and docstring compare with VOC, over ``(label, instances)`` pairs."""
    classes, objects, foreground, cells, occluded, truncated = [], [], [], [], 0, 0
    total = 0
    for label, instances in scenes:
        size = label.shape[0]
        classes.append(len({i['category'] for i in instances}))
        objects.append(len(instances))
        foreground.append(float((label > 0).mean()))
        for index, instance in enumerate(instances):
            total += 1
            mask = instance['mask']
            cells.append(np.sqrt(mask.sum()) / 4)
            covered = np.zeros_like(mask)
            for later in instances[index + 1:]:
                covered |= later['mask']
            occluded += (mask & covered).sum() > 0.1 * mask.sum()
            truncated += bool(mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())
    return dict(classes_per_image=float(np.mean(classes)), objects_per_image=float(np.mean(objects)),
                foreground_fraction=float(np.mean(foreground)),
                object_cells_p10=float(np.percentile(cells, 10)), object_cells_p90=float(np.percentile(cells, 90)),
                occluded_fraction=occluded / max(total, 1), truncated_fraction=truncated / max(total, 1))


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
    params = generation_params(num_train, num_val, num_train_subset, image_size, seed)
    out_root = os.fspath(out_root)
    # several processes (e.g. distributed ranks) may ask at once: one generates, under a lock
    voc_dir = generate_folder(osp.join(out_root, 'VOCdevkit', 'VOC2012'), lambda folder: is_complete(folder, params),
                              lambda folder: _generate_into(folder, params), MANIFEST_NAME, force=force,
                              who='make_embedded_voc')
    _write_readme(out_root, voc_dir)
    return voc_dir


def _write_readme(out_root, voc_dir):
    """``<out_root>/README.txt``, the dataset's description, from its manifest (rewritten when it differs)."""
    with open(osp.join(voc_dir, MANIFEST_NAME)) as f:
        manifest = json.load(f)
    counts = {name: len(ids) for name, ids in manifest['splits'].items()}
    text = _readme_text(manifest['params'], counts, manifest['statistics'])
    path = osp.join(out_root, 'README.txt')
    if osp.isfile(path):
        with open(path) as f:
            if f.read() == text:
                return
    with atomic_write(path, 'w') as f:
        f.write(text)


def _generate_into(root, params):
    size, seed = params['image_size'], params['seed']
    for sub in ('JPEGImages', 'SegmentationClass', 'SegmentationClassAug', 'ImageSets/Segmentation'):
        os.makedirs(osp.join(root, sub), exist_ok=True)
    train_aug = [f'train_{i:04d}' for i in range(params['num_train'])]
    val = [f'val_{i:04d}' for i in range(params['num_val'])]
    train = train_aug[:params['num_train_subset']]
    with_void = set(train) | set(val)  # ids that VOC's own SegmentationClass covers
    labels, scenes = {}, []
    digest = hashlib.sha256()
    band = void_band_width(size)
    for split_code, ids in ((0, train_aug), (1, val)):
        for index, image_id in enumerate(ids):
            scene = render_scene(np.random.default_rng([seed, split_code, index]), size)
            scenes.append((scene['label'], scene['instances']))
            mask = add_void_border(scene['label'], band) if image_id in with_void else scene['label']
            labels[image_id] = class_labels_of_mask(mask, len(EMBEDDED_CLASSES))
            jpg = _jpeg_bytes(scene['image'])
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
    statistics = {k: round(v, 4) for k, v in scene_statistics(scenes).items()}
    manifest = dict(params=params, splits=splits, statistics=statistics, images_sha256=digest.hexdigest())
    _write(osp.join(root, MANIFEST_NAME), json.dumps(manifest, indent=1).encode())
    return splits


def generation_params(num_train=160, num_val=40, num_train_subset=60, image_size=128, seed=0):
    """The parameters :func:`make_embedded_voc` records (in its manifest) for these arguments."""
    return dict(generator_version=GENERATOR_VERSION, num_train=num_train,
                num_train_subset=max(1, min(num_train_subset, num_train)), num_val=num_val, image_size=image_size,
                seed=seed, classes=list(EMBEDDED_CLASSES))
