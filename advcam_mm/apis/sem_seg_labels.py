"""Pseudo masks by IRN's random walk over a split: distributed and resumable.

AdvCAM's ``step/make_sem_seg_labels.py``: IRNet's class boundary map of each
image (flip-averaged, :meth:`advcam_mm.models.IRNet.boundary_and_displacement`)
gives the pair affinities; the stride-4 class maps of ``tools/make_cams.py``
walk over them (:func:`advcam_mm.core.random_walk.refine_with_random_walk`);
the result is one palette PNG of class ids per image
(:mod:`advcam_mm.fileio.label_png`). As in :mod:`.make_cams`, ranks split the
ids (``ids[rank::world_size]``), finished files are skipped, writes are
atomic and a barrier ends the call, so N processes make the files one would.
"""
import os
import time
from typing import Optional

import torch
from mmengine.dist import barrier, get_dist_info

from ..core.pair_indices import INFERENCE_RADIUS
from ..core.random_walk import BETA, CAM_POWER, EXP_TIMES, SEM_SEG_BG_THRES, refine_with_random_walk
from ..fileio.cam_files import cam_file_path, load_cam_file
from ..fileio.label_png import label_png_path, remove_stale_temp_files, save_label_png
from .eval_seeds import check_files_exist
from .make_cams import normalise_image, read_rgb
from .progress import RankZeroProgress
from .runner import build_inference_model, settings_from_config

#: AdvCAM's random-walk settings (``run_sample.py``, ``step/make_sem_seg_labels.py``);
#: a config's ``random_walk`` dict overrides them.
DEFAULT_RANDOM_WALK = dict(beta=BETA, exp_times=EXP_TIMES, sem_seg_bg_thres=SEM_SEG_BG_THRES,
                           radius=INFERENCE_RADIUS, cam_power=CAM_POWER)


def random_walk_settings(cfg=None, **overrides) -> dict:
    """Defaults, then the config's ``random_walk`` dict, then explicit (non-None) overrides."""
    return settings_from_config(cfg, 'random_walk', DEFAULT_RANDOM_WALK, **overrides)


def build_irnet(cfg, checkpoint: Optional[str], device='cpu'):
    """Build ``cfg.model`` (an IRNet) and load ``checkpoint``; eval mode."""
    return build_inference_model(cfg, checkpoint, device, 'IRNet', ('boundary_and_displacement',))


def pseudo_mask_of_image(model, image_rgb, maps, settings, mean, std, device='cpu', name='image'):
    """``(H, W)`` int64 pseudo mask of one image from its class-map file content ``maps``."""
    image = normalise_image(image_rgb, mean, std, device)
    boundary, _ = model.boundary_and_displacement(image)
    if tuple(maps['cam'].shape[1:]) != tuple(boundary.shape):
        raise ValueError(f'{name}: stride-4 maps of size {maps["cam"].shape[1:]} but the image '
                         f'{tuple(image.shape[-2:])} needs {tuple(boundary.shape)}')
    return refine_with_random_walk(torch.from_numpy(maps['cam']), maps['keys'], boundary,
                                   image.shape[-2:], **settings)


def make_sem_seg_labels(model, image_ids, image_dir: str, cam_dir: str, out_dir: str, settings: dict,
                        mean, std, device='cpu', rank: Optional[int] = None,
                        world_size: Optional[int] = None, show_progress: bool = True) -> dict:
    """Write ``<out_dir>/<id>.png`` for this rank's share of ``image_ids``; skip finished files.

    Args:
        model: an IRNet in eval mode (:func:`build_irnet`).
        image_ids: all ids of the split (each rank takes ``ids[rank::world_size]``).
        image_dir: folder of ``<id>.jpg``.
        cam_dir: folder of ``<id>.npy`` class-map files (``cam`` and ``keys`` are used).
        settings: :func:`random_walk_settings`.
        mean, std: the normalisation IRNet was trained with (its ``data_preprocessor``).

    Returns ``{'written': n, 'skipped': n, 'seconds': t}`` for this rank.
    """
    if rank is None or world_size is None:
        rank, world_size = get_dist_info()
    os.makedirs(out_dir, exist_ok=True)
    mine = list(image_ids)[rank::world_size]
    todo = [i for i in mine if not os.path.exists(label_png_path(out_dir, i))]
    remove_stale_temp_files(out_dir, [label_png_path(out_dir, i) for i in todo])
    check_files_exist(todo, cam_dir, cam_file_path, 'class-map file', ' (run tools/make_cams.py first)')
    check_files_exist(todo, image_dir, lambda d, i: os.path.join(d, f'{i}.jpg'), 'image')
    progress = RankZeroProgress(len(mine), rank, enabled=show_progress, title='random walk')
    for _ in range(len(mine) - len(todo)):
        progress.update(skipped=True)
    start = time.perf_counter()
    for image_id in todo:
        cam_path = cam_file_path(cam_dir, image_id)
        maps = load_cam_file(cam_path)
        image = read_rgb(os.path.join(image_dir, f'{image_id}.jpg'))
        mask = pseudo_mask_of_image(model, image, maps, settings, mean, std, device, name=cam_path)
        save_label_png(label_png_path(out_dir, image_id), mask.cpu().numpy())
        progress.update()
    progress.close()
    if world_size > 1:
        barrier()
    return {'written': len(todo), 'skipped': len(mine) - len(todo), 'seconds': time.perf_counter() - start}
