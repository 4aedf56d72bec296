"""Class-map generation (CAM or AdvCAM) over a dataset split: distributed and resumable.

Ranks split the image list (``ids[rank::world_size]``); every image becomes one
file in IRN's format (:mod:`advcam_mm.fileio.cam_files`), written atomically;
an image whose file exists is skipped, so a killed run resumes where it
stopped and N processes produce the same files as one. The same function is
called by ``tools/make_cams.py`` and by the pseudo-label hook.
"""
import copy
import os
import time
from typing import Optional

import numpy as np
import torch
from mmengine.dist import barrier, get_dist_info

from ..core.advcam import advcam_maps
from ..core.cam import multiscale_cam
from ..fileio.cam_files import cam_file_path, save_cam_file
from .progress import RankZeroProgress
from .runner import build_inference_model, settings_from_config

#: AdvCAM's defaults (``obtain_CAM_masking.py``); configs override them under ``label_generation``.
DEFAULT_LABEL_GENERATION = dict(method='advcam', scales=(1.0, 0.5, 1.5, 2.0), flip=True, steps=27,
                                step_size=0.08, mask_thresh=0.5, mask_coef=7.0, max_batch=None,
                                amp=None)


def label_generation_settings(cfg, **overrides) -> dict:
    """Defaults, then the config's ``label_generation`` dict, then explicit overrides."""
    settings = settings_from_config(cfg, 'label_generation', DEFAULT_LABEL_GENERATION, **overrides)
    if settings['method'] not in ('cam', 'advcam'):
        raise ValueError(f"label_generation.method must be 'cam' or 'advcam', got {settings['method']!r}")
    return settings


def build_cam_model(cfg, checkpoint: Optional[str], device='cpu'):
    """The classifier of ``cfg.model`` with ``checkpoint``, in eval mode, offering the CAM protocol."""
    try:
        return build_inference_model(cfg, checkpoint, device, 'classifier', ('cam_features', 'cam_weight'))
    except TypeError as error:
        raise TypeError(f'{error} (wrap a torchvision classifier with TorchvisionCAMAdapter)') from error


def split_dataset(cfg, split: Optional[str] = None):
    """The classification dataset of ``cfg.train_dataloader`` for ``split`` (no pipeline)."""
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    if split is not None:
        dataset_cfg['ann_file'] = f'ImageSets/Segmentation/{split}.txt'
    dataset_cfg['pipeline'] = []
    return DATASETS.build(dataset_cfg)


def normalise_image(image_rgb: np.ndarray, mean, std, device) -> torch.Tensor:
    """``(H, W, 3)`` uint8 RGB -> ``(3, H, W)`` float tensor, ``(x - mean) / std``."""
    x = torch.from_numpy(np.ascontiguousarray(image_rgb)).to(device).permute(2, 0, 1).float()
    mean = torch.as_tensor(mean, dtype=x.dtype, device=device).view(3, 1, 1)
    std = torch.as_tensor(std, dtype=x.dtype, device=device).view(3, 1, 1)
    return (x - mean) / std


def read_rgb(path: str) -> np.ndarray:
    import mmcv
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: image not found')
    image = mmcv.imread(path, channel_order='rgb')
    if image is None:
        raise ValueError(f'{path}: unreadable or corrupt image')
    return image


def class_maps_of_image(model, image: torch.Tensor, class_ids, settings: dict) -> dict:
    """One image's CAM or AdvCAM maps with ``settings`` (see :data:`DEFAULT_LABEL_GENERATION`)."""
    weight = model.cam_weight.detach()
    if settings['method'] == 'cam':
        return multiscale_cam(model.cam_features, weight, image, class_ids,
                              scales=settings['scales'], flip=settings['flip'])
    amp = settings.get('amp')
    context = (torch.autocast(image.device.type, dtype=getattr(torch, amp)) if amp
               else torch.autocast(image.device.type, enabled=False))
    with context:
        return advcam_maps(model.cam_features, weight, image, class_ids, scales=settings['scales'],
                           steps=settings['steps'], step_size=settings['step_size'],
                           mask_thresh=settings['mask_thresh'], mask_coef=settings['mask_coef'],
                           flip=settings['flip'], max_batch=settings.get('max_batch'))


def generate_class_maps(model, dataset, out_dir: str, settings: dict, mean, std,
                        device='cpu', rank: Optional[int] = None, world_size: Optional[int] = None,
                        show_progress: bool = True) -> dict:
    """Write ``<out_dir>/<id>.npy`` for this rank's share of ``dataset``; skip finished files.

    Returns ``{'written': n, 'skipped': n, 'seconds': t}`` for this rank. Calls a
    barrier at the end when distributed, so every file exists on return.
    """
    if rank is None or world_size is None:
        rank, world_size = get_dist_info()
    os.makedirs(out_dir, exist_ok=True)
    indices = list(range(rank, len(dataset), world_size))
    progress = RankZeroProgress(len(indices), rank, enabled=show_progress,
                                title=f"{settings['method']} maps")
    written = skipped = 0
    start = time.perf_counter()
    for index in indices:
        info = dataset.get_data_info(index)
        path = cam_file_path(out_dir, info['img_id'])
        if os.path.exists(path):
            skipped += 1
            progress.update(skipped=True)
            continue
        class_ids = np.flatnonzero(np.asarray(info['gt_class_labels']) > 0)
        image = normalise_image(read_rgb(info['img_path']), mean, std, device)
        maps = class_maps_of_image(model, image, torch.as_tensor(class_ids, device=device), settings)
        save_cam_file(path, maps['keys'], maps['strided'], maps['high_res'])
        written += 1
        progress.update()
    progress.close()
    if world_size > 1:
        barrier()
    return {'written': written, 'skipped': skipped, 'seconds': time.perf_counter() - start}
