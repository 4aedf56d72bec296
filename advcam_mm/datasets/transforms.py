"""Data transforms of IRN's classifier training that MMSeg lacks, plus checked loaders.

IRN trains the classifier (``step/train_cam.py``) on images that are
(1) resized so the long side is a random integer in [320, 640] (bicubic),
(2) normalised, (3) flipped horizontally with p=0.5, (4) randomly cropped to
512x512, padding with 0 where the image is smaller (``misc/imutils.py``).
Here (2) is done later by the model's ``data_preprocessor`` and (3) by
mmseg's ``RandomFlip(prob=0.5)``; this file provides (1) ``RandomResizeLong``,
(4) ``RandomCropPad`` and ``PackMultiLabelInputs`` for the multi-hot targets.

``LoadImageWithCheck`` and ``LoadVOCAnnotations`` are mmcv/mmseg's loaders
with errors that name the file for a missing, unreadable or corrupt image or
a mask with values outside ``0..K-1``/255.
"""
import io
import os.path as osp

import cv2
import mmcv
import mmengine.fileio as fileio
import numpy as np
import torch
from mmcv.transforms import BaseTransform, LoadImageFromFile
from PIL import Image

from mmseg.datasets.transforms import LoadAnnotations, PackSegInputs
from mmseg.registry import TRANSFORMS

from ..core.labels import IGNORE_INDEX
from ..fileio.label_png import validate_label_map

# ImageNet mean in the BGR order that LoadImageFromFile produces: becomes 0 after the
# data_preprocessor's normalisation (mean=[123.675, 116.28, 103.53], bgr_to_rgb=True).
IMAGENET_MEAN_BGR = (103.53, 116.28, 123.675)


class ImageReadError(OSError):
    """An image or mask file exists but cannot be decoded (corrupt, truncated, not an image)."""


def _resize(array, size_wh, resample):
    """Resize an (H, W[, C]) array to ``size_wh`` with PIL (IRN's ``pil_resize``), cv2 for non-uint8."""
    if array.shape[1] == size_wh[0] and array.shape[0] == size_wh[1]:
        return array
    if array.dtype == np.uint8 and (array.ndim == 2 or array.shape[2] in (1, 3, 4)):
        squeeze = array.ndim == 3 and array.shape[2] == 1
        image = Image.fromarray(array[..., 0] if squeeze else array)
        out = np.asarray(image.resize(size_wh, resample))
        return out[..., None] if squeeze else out
    flag = cv2.INTER_CUBIC if resample == Image.BICUBIC else cv2.INTER_NEAREST
    return cv2.resize(array, size_wh, interpolation=flag)


def rescale_results(results, scale):
    """Resize ``results['img']`` (PIL bicubic) and its seg maps (nearest) by ``scale``, as IRN's
    ``pil_rescale``, and keep ``img_shape`` / ``scale_factor`` / ``keep_ratio`` up to date."""
    h, w = results['img'].shape[:2]
    new_h, new_w = max(1, int(round(h * scale))), max(1, int(round(w * scale)))
    results['img'] = _resize(results['img'], (new_w, new_h), Image.BICUBIC)
    for key in results.get('seg_fields', []):
        if results.get(key) is not None:
            results[key] = _resize(results[key], (new_w, new_h), Image.NEAREST)
    results['img_shape'] = (new_h, new_w)
    old = results.get('scale_factor', (1.0, 1.0))
    results['scale_factor'] = (old[0] * new_w / w, old[1] * new_h / h)
    results['keep_ratio'] = True
    return results


@TRANSFORMS.register_module()
class RandomResizeLong(BaseTransform):
    """Resize so that the long side is a random integer in [min_long, max_long] (IRN's ``random_resize_long``).

    The image is resized bicubically, seg maps (``seg_fields``) with nearest
    neighbour; the aspect ratio is kept (each side rounded).

    Modified keys: img, img_shape, scale_factor, keep_ratio, and each of seg_fields.
    """

    def __init__(self, min_long=320, max_long=640):
        if not 0 < min_long <= max_long:
            raise ValueError(f'RandomResizeLong needs 0 < min_long <= max_long, got {min_long}, {max_long}')
        self.min_long = int(min_long)
        self.max_long = int(max_long)

    def transform(self, results):
        target_long = int(np.random.randint(self.min_long, self.max_long + 1))
        return rescale_results(results, target_long / max(results['img'].shape[:2]))

    def __repr__(self):
        return f'{type(self).__name__}(min_long={self.min_long}, max_long={self.max_long})'


@TRANSFORMS.register_module()
class RandomCropPad(BaseTransform):
    """Random ``crop_size`` crop that pads where the image is smaller (IRN's ``random_crop``).

    Along each side longer than the crop, a random window is taken; along each
    side shorter, the whole image is placed at a random offset inside the
    crop and the rest is filled. IRN crops *after* normalising and fills
    with 0, i.e. with the mean colour; here normalisation comes later (in the
    data_preprocessor), so the image is filled with ``pad_val``, by default
    the ImageNet mean in BGR order (0 after normalisation, as in IRN; rounded
    to integers for uint8 images). Seg maps are filled with ``seg_pad_val``
    (255, ignored). The output is always ``crop_size``.

    Args:
        crop_size (int | tuple[int, int]): output (h, w); an int means square.
        pad_val (float | sequence): image fill value per channel.
        seg_pad_val (int): seg map fill value.

    Modified keys: img, img_shape, pad_shape, each of seg_fields; added: crop_bbox
    (y1, y2, x1, x2 of the image window placed in the output).
    """

    def __init__(self, crop_size=512, pad_val=IMAGENET_MEAN_BGR, seg_pad_val=IGNORE_INDEX):
        if isinstance(crop_size, int):
            crop_size = (crop_size, crop_size)
        self.crop_size = tuple(int(c) for c in crop_size)
        if len(self.crop_size) != 2 or min(self.crop_size) <= 0:
            raise ValueError(f'RandomCropPad: crop_size must be a positive int or (h, w), got {crop_size}')
        self.pad_val = pad_val
        self.seg_pad_val = seg_pad_val

    @staticmethod
    def _window(size, crop):
        """(offset in output, offset in input, length) along one axis, as IRN's get_random_crop_box."""
        length = min(size, crop)
        space = size - crop
        if space > 0:
            return 0, int(np.random.randint(space + 1)), length
        return int(np.random.randint(-space + 1)), 0, length

    @staticmethod
    def _paste(array, out_hw, fill, out_y, in_y, out_x, in_x, h, w):
        shape = tuple(out_hw) + array.shape[2:]
        out = np.empty(shape, dtype=array.dtype)
        fill = np.asarray(fill, dtype=np.float64)
        if np.issubdtype(array.dtype, np.integer):
            fill = np.round(fill)
        out[...] = fill.astype(array.dtype) if fill.ndim else array.dtype.type(fill)
        out[out_y:out_y + h, out_x:out_x + w] = array[in_y:in_y + h, in_x:in_x + w]
        return out

    def transform(self, results):
        img = results['img']
        crop_h, crop_w = self.crop_size
        out_y, in_y, h = self._window(img.shape[0], crop_h)
        out_x, in_x, w = self._window(img.shape[1], crop_w)
        fill = self.pad_val
        if img.ndim == 2 and np.ndim(fill) == 1:
            fill = float(np.mean(fill))
        if img.ndim == 3 and np.ndim(fill) == 1 and len(fill) != img.shape[2]:
            raise ValueError(f'RandomCropPad: pad_val has {len(fill)} values for an image with '
                             f'{img.shape[2]} channels')
        results['img'] = self._paste(img, (crop_h, crop_w), fill, out_y, in_y, out_x, in_x, h, w)
        for key in results.get('seg_fields', []):
            if results.get(key) is not None:
                results[key] = self._paste(results[key], (crop_h, crop_w), self.seg_pad_val,
                                           out_y, in_y, out_x, in_x, h, w)
        results['img_shape'] = (crop_h, crop_w)
        results['pad_shape'] = (crop_h, crop_w)
        results['crop_bbox'] = (out_y, out_y + h, out_x, out_x + w)
        return results

    def __repr__(self):
        return (f'{type(self).__name__}(crop_size={self.crop_size}, pad_val={self.pad_val}, '
                f'seg_pad_val={self.seg_pad_val})')


@TRANSFORMS.register_module()
class PackMultiLabelInputs(PackSegInputs):
    """mmseg's ``PackSegInputs`` plus the image-level multi-hot target.

    ``inputs``: CHW image tensor; ``data_samples``: a ``SegDataSample`` with
    field ``gt_class_labels`` (float32 tensor (K,), foreground classes),
    ``gt_sem_seg`` when a seg map was loaded, and the ``meta_keys`` found
    (``img_id`` among them).
    """

    def __init__(self, meta_keys=('img_path', 'img_id', 'seg_map_path', 'ori_shape', 'img_shape',
                                  'pad_shape', 'scale_factor', 'flip', 'flip_direction',
                                  'reduce_zero_label')):
        super().__init__(meta_keys=meta_keys)

    def transform(self, results):
        if 'gt_class_labels' not in results:
            raise KeyError(f'PackMultiLabelInputs: sample {results.get("img_path", "?")} has no '
                           f'gt_class_labels (use VOCClassificationDataset)')
        packed = super().transform(results)
        labels = torch.as_tensor(np.asarray(results['gt_class_labels'], dtype=np.float32))
        packed['data_samples'].gt_class_labels = labels
        return packed


def _check_readable(path, what):
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} file not found: {path}')


def _jpeg_is_truncated(data):
    """True when JPEG bytes lack the end-of-image marker and PIL confirms the truncation."""
    if not data.startswith(b'\xff\xd8'):
        return False
    if b'\xff\xd9' in data[-64:]:
        return False
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
    except Exception:
        return True
    return False


@TRANSFORMS.register_module()
class LoadImageWithCheck(LoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` that names the file when it is missing, unreadable or corrupt.

    cv2 silently returns a partly grey image for a truncated JPEG and ``None``
    for garbage; both become an ``ImageReadError`` naming the file here.
    Only local paths are checked for existence (other backends go through
    ``mmengine.fileio``).
    """

    def transform(self, results):
        path = results['img_path']
        is_local = '://' not in str(path)
        if is_local:
            _check_readable(path, 'image')
        try:
            data = fileio.get(path, backend_args=self.backend_args)
        except Exception as e:
            raise ImageReadError(f'cannot read image {path}: {e}') from e
        try:
            img = mmcv.imfrombytes(data, flag=self.color_type, backend=self.imdecode_backend)
        except Exception as e:
            raise ImageReadError(f'cannot decode image {path} (corrupt or not an image): {e}') from e
        if img is None or img.size == 0:
            raise ImageReadError(f'cannot decode image {path}: corrupt or not an image '
                                 f'({len(data)} bytes)')
        if _jpeg_is_truncated(data):
            raise ImageReadError(f'image {path} is a truncated/corrupt JPEG (no end-of-image marker)')
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results


@TRANSFORMS.register_module()
class LoadVOCAnnotations(LoadAnnotations):
    """mmseg's ``LoadAnnotations`` that names the mask file when it is missing, corrupt or has bad values.

    Values must be class indices ``0..num_classes-1`` or ``ignore_index``.
    ``num_classes``/``ignore_index`` default to those the advcam_mm VOC
    datasets put in each sample; with neither, only the shape is checked.
    """

    def __init__(self, num_classes=None, ignore_index=None, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.ignore_index = ignore_index

    def _load_seg_map(self, results):
        path = results['seg_map_path']
        if '://' not in str(path):
            _check_readable(path, 'mask')
        try:
            super()._load_seg_map(results)
        except Exception as e:
            raise ImageReadError(f'cannot read mask {path}: {e}') from e
        num_classes = self.num_classes or results.get('num_classes')
        ignore_index = self.ignore_index if self.ignore_index is not None else results.get(
            'ignore_index', IGNORE_INDEX)
        mask = results['gt_seg_map']
        if num_classes is None:
            if mask.ndim != 2:
                raise ValueError(f'mask {path} has shape {mask.shape}: expected a single-channel '
                                 f'(H, W) PNG of class indices')
        else:
            validate_label_map(mask, num_classes, path, 'mask', ignore_index)

    def __repr__(self):
        return (f'{type(self).__name__}(num_classes={self.num_classes}, ignore_index={self.ignore_index}, '
                f"imdecode_backend='{self.imdecode_backend}')")
