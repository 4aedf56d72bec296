"""Stage: pseudo masks of a segmentation training set, from class maps (paper Sec. 4.1).

Reads     a class-map folder (complete manifest: CAM or AdvCAM maps of every image of
          the dataset) and, for the ``'irn'`` refiner, the IRNet config (model,
          normalisation, ``random_walk``) and checkpoint; the images of the dataset.
Writes    the dataset's own mask folder: ``<mask_dir>/<image id>.png`` (class ids,
          :mod:`advcam_mm.fileio.label_png`) and the manifest, so the folder the stage
          fills and the folder the segmentor reads are one by construction.
Settings  the refiner:
          ``'none'``: seeds ``argmax([bg_threshold, maps])`` (:func:`advcam_mm.core.seeds.seeds_from_maps`);
          ``'crf'``: those seeds refined by IRN's dense CRF (the paper's "+CRF" seeds);
          ``'irn'``: IRN's random walk over the IRNet's boundary map (the paper's
          pseudo masks; AdvCAM's ``step/make_sem_seg_labels.py``), ``random_walk`` of the IRNet config.

Called by :class:`advcam_mm.hooks.AdvCAMPseudoLabelHook` before training and by
``tools/make_pseudo_labels.py CONFIG`` (the same hook, without training). Ranks
split the images; rank 0 plans and writes the manifest::

    python tools/make_pseudo_labels.py SEGMENTOR_CONFIG [--regenerate]
    torchrun --nproc_per_node N tools/make_pseudo_labels.py SEGMENTOR_CONFIG --launcher pytorch
"""
import argparse
import os.path as osp
import time
from typing import Optional

import torch

from ..core.image_tensor import normalise_image
from ..core.random_walk import refine_with_random_walk
from ..core.seeds import seed_with_crf, seeds_from_maps
from ..fileio.cam_files import cam_file_path, load_cam_file
from ..fileio.images import read_rgb
from ..fileio.label_png import label_png_path, remove_stale_temp_files, save_label_png
from ..fileio.manifest import file_input, folder_input
from .datasets import dataset_input, samples
from .distributed import barrier_if_distributed, decide_on_rank_zero, init_launcher, this_rank_share
from .models import build_irnet
from .output_folder import OutputFolder
from .progress import RankZeroProgress
from .runner import load_config
from .settings import SEED_CRF_KEYS, config_settings, normalisation
from .training import resolve_checkpoint

STAGE = 'pseudo_masks'
REFINERS = ('none', 'crf', 'irn')
RANDOM_WALK_KEYS = ('beta', 'exp_times', 'sem_seg_bg_thres', 'radius', 'cam_power')


class PseudoMaskError(RuntimeError):
    """A training set whose pseudo masks cannot be made as configured; the message says why."""


def refiner_settings(refiner) -> dict:
    """The refiner as the manifest records it, from ``'none'``/``'crf'`` or a dict with ``type``.

    ``none`` and ``crf`` take ``bg_threshold`` (required); ``crf`` also ``crf``, the CRF's
    settings (as a config's ``seed_crf``; IRN's when not given); ``irn`` takes the IRNet
    ``config`` and ``checkpoint`` and reads ``random_walk`` from that config (entries given
    here override it).
    """
    refiner = dict(type=refiner) if isinstance(refiner, str) else dict(refiner or {})
    kind = refiner.pop('type', None)
    if kind not in REFINERS:
        raise ValueError(f'refiner type must be one of {REFINERS}, got {kind!r}')
    if kind != 'irn':  # a config switched to seeds by --cfg-options ...refiner.type=crf keeps these
        refiner.pop('config', None)
        refiner.pop('checkpoint', None)
        allowed = {'bg_threshold'} | ({'crf'} if kind == 'crf' else set())
        unknown = set(refiner) - allowed
        if unknown or 'bg_threshold' not in refiner:
            raise ValueError(f"refiner '{kind}' takes {sorted(allowed)} (bg_threshold: the seeds' background "
                             f'score), got {sorted(refiner)}')
        settings = dict(type=kind, bg_threshold=float(refiner['bg_threshold']))
        if kind == 'crf':
            crf = dict(refiner.get('crf') or {})
            unknown = set(crf) - set(SEED_CRF_KEYS)
            if unknown:
                raise ValueError(f"unknown settings {sorted(unknown)} of refiner 'crf''s crf; known: {SEED_CRF_KEYS}")
            settings['crf'] = crf
        return settings
    for key in ('config', 'checkpoint'):
        if not refiner.get(key):
            raise ValueError(f"refiner 'irn' needs the IRNet {key} (refiner=dict(type='irn', config=..., "
                             f'checkpoint=...))')
    irn_cfg = load_config(refiner.pop('config'))
    checkpoint = resolve_checkpoint(refiner.pop('checkpoint'))
    walk = config_settings(irn_cfg, 'random_walk', RANDOM_WALK_KEYS, **refiner)
    mean, std = normalisation(irn_cfg)
    return dict(type='irn', **walk, mean=mean, std=std, config=irn_cfg.filename, checkpoint=checkpoint)


def mask_folder_of(dataset) -> tuple:
    """``(mask folder, data infos)`` of a segmentation dataset whose masks are ``<one folder>/<id>.png``."""
    while not hasattr(dataset, 'data_prefix') and hasattr(dataset, 'dataset'):
        dataset = dataset.dataset
    name = type(dataset).__name__
    if hasattr(dataset, 'datasets'):
        raise PseudoMaskError(f'{name}: a concatenation of datasets is not supported; label each one separately')
    infos = samples(dataset)
    if not infos:
        raise PseudoMaskError(f'{name}: the training dataset is empty')
    if not all(info.get('seg_map_path') for info in infos):
        raise PseudoMaskError(f'{name}: samples have no seg_map_path; give the training dataset a mask folder '
                              '(mask_dir) for the pseudo masks')
    folders = {osp.normpath(osp.abspath(osp.dirname(info['seg_map_path']))) for info in infos}
    if len(folders) != 1:
        raise PseudoMaskError(f'{name}: masks come from several folders {sorted(folders)[:3]}; pseudo masks '
                              'need one folder')
    folder = folders.pop()
    for info in infos:
        if osp.normpath(osp.abspath(info['seg_map_path'])) != osp.normpath(label_png_path(folder, info['img_id'])):
            raise PseudoMaskError(f"{name}: mask path {info['seg_map_path']} of image {info['img_id']} is not "
                                  '<mask folder>/<image id>.png')
    return folder, infos


def describe(dataset, maps_dir: str, refiner) -> tuple:
    """``(OutputFolder, data infos, refiner settings)`` of a run."""
    settings = refiner_settings(refiner)
    label_dir, infos = mask_folder_of(dataset)
    inputs = dict(class_maps=folder_input(maps_dir), dataset=dataset_input(dataset))
    if settings['type'] == 'irn':
        inputs['irnet_checkpoint'] = file_input(settings['checkpoint'])
    recorded = {k: v for k, v in settings.items() if k not in ('config', 'checkpoint')}
    return OutputFolder(label_dir, STAGE, recorded, inputs, patterns=('*.png',)), infos, settings


def _seed_label(info, maps, settings):
    if settings['type'] == 'crf':
        image = read_rgb(info['img_path'])
        if image.shape[:2] != maps['high_res'].shape[1:]:
            raise PseudoMaskError(f"{info['img_path']}: image is {image.shape[:2]} but its class maps are "
                                  f"{maps['high_res'].shape[1:]}")
        return seed_with_crf(image, maps['high_res'], maps['keys'], settings['bg_threshold'], **settings['crf'])
    return seeds_from_maps(maps['high_res'], maps['keys'], settings['bg_threshold'])


def pseudo_mask_of_image(model, image_rgb, maps, settings, device='cpu', name='image'):
    """``(H, W)`` int64 pseudo mask of one image: IRNet's boundary map and the random walk of its maps."""
    image = normalise_image(image_rgb, settings['mean'], settings['std'], device)
    boundary, _ = model.boundary_and_displacement(image)
    if tuple(maps['cam'].shape[1:]) != tuple(boundary.shape):
        raise ValueError(f'{name}: stride-4 maps of size {maps["cam"].shape[1:]} but the image '
                         f'{tuple(image.shape[-2:])} needs {tuple(boundary.shape)}')
    walk = {key: settings[key] for key in RANDOM_WALK_KEYS}
    return refine_with_random_walk(torch.from_numpy(maps['cam']), maps['keys'], boundary, image.shape[-2:], **walk)


def make_masks(infos, maps_dir, label_dir, settings, device='cpu', rank=0, world_size=1, show_progress=True):
    """Write this rank's share of the masks that are missing; return ``{'written', 'seconds'}``."""
    mine = [i for i in this_rank_share(infos, rank, world_size)
            if not osp.exists(label_png_path(label_dir, i['img_id']))]
    remove_stale_temp_files(label_dir, [label_png_path(label_dir, i['img_id']) for i in mine])
    model = build_irnet(load_config(settings['config']), settings['checkpoint'], device) \
        if settings['type'] == 'irn' else None
    progress = RankZeroProgress(len(mine), rank, enabled=show_progress, title=f"{settings['type']} pseudo masks")
    start = time.perf_counter()
    with torch.no_grad():
        for info in mine:
            cam_path = cam_file_path(maps_dir, info['img_id'])
            maps = load_cam_file(cam_path)
            if model is None:
                label = _seed_label(info, maps, settings)
            else:
                label = pseudo_mask_of_image(model, read_rgb(info['img_path']), maps, settings, device,
                                             name=cam_path).cpu().numpy()
            save_label_png(label_png_path(label_dir, info['img_id']), label)
            progress.update()
    progress.close()
    return {'written': len(mine), 'seconds': time.perf_counter() - start}


def make_pseudo_masks(dataset, maps_dir: str, refiner, regenerate: bool = False, device: Optional[str] = None,
                      show_progress: bool = True) -> dict:
    """Make the pseudo masks ``dataset`` reads that are missing (all ranks call this).

    Returns ``{'plan', 'label_dir', 'num_images', 'num_generated', 'seconds'}``; when it
    returns, every mask exists on every rank.
    """
    from mmengine.dist import get_dist_info
    start = time.perf_counter()
    rank, world_size = get_dist_info()
    if device is None:
        device = f'cuda:{torch.cuda.current_device()}' if torch.cuda.is_available() else 'cpu'

    def plan():
        folder, infos, _ = describe(dataset, maps_dir, refiner)
        decision = folder.plan(regenerate)
        todo = [i['img_id'] for i in infos
                if decision == 'regenerate' or not osp.isfile(label_png_path(folder.path, i['img_id']))]
        if decision != 'reuse' or todo:
            missing = [i for i in todo if not osp.isfile(cam_file_path(maps_dir, i))]
            if missing:
                raise PseudoMaskError(f'{cam_file_path(maps_dir, missing[0])}: class maps of {len(missing)} '
                                      f'training images are missing from {maps_dir}; make them with '
                                      'tools/make_cams.py on the training split first')
            folder.start(decision)
        return decision, len(todo)
    decision, num_todo = decide_on_rank_zero(plan)
    folder, infos, settings = describe(dataset, maps_dir, refiner)
    summary = dict(plan=decision, label_dir=folder.path, num_images=len(infos), num_generated=num_todo)
    if decision == 'reuse' and num_todo == 0:
        if rank == 0:
            print(f'pseudo masks: all {len(infos)} masks in {folder.path} match the settings; reusing them',
                  flush=True)
        return dict(summary, seconds=time.perf_counter() - start)
    barrier_if_distributed()
    if rank == 0:
        print(f"pseudo masks: making {num_todo} of {len(infos)} masks in {folder.path} ({decision}; maps "
              f"{maps_dir}, refiner '{settings['type']}', {world_size} process(es))", flush=True)
    make_masks(infos, maps_dir, folder.path, settings, device, rank, world_size, show_progress)
    barrier_if_distributed()
    if rank == 0:
        missing = [i['img_id'] for i in infos if not osp.isfile(label_png_path(folder.path, i['img_id']))]
        if missing:
            raise PseudoMaskError(f'{folder.path}: {len(missing)} pseudo masks still missing (e.g. {missing[0]})')
        folder.complete(num_images=len(infos))
    barrier_if_distributed()
    return dict(summary, seconds=time.perf_counter() - start)


# -- the command line: the segmentor config's hook, without training ------------------------------
def pseudo_label_hook_cfg(cfg, config_path: str) -> dict:
    hooks = [h for h in cfg.get('custom_hooks', []) or [] if h.get('type') == 'AdvCAMPseudoLabelHook']
    if len(hooks) != 1:
        raise PseudoMaskError(f'{config_path}: custom_hooks must hold exactly one AdvCAMPseudoLabelHook, '
                              f'found {len(hooks)}')
    return dict(hooks[0])


def training_dataset(cfg):
    from .datasets import build_dataset
    return build_dataset(cfg.train_dataloader.dataset)


def status(args) -> str:
    cfg = load_config(args.config, args.cfg_options)
    hook = pseudo_label_hook_cfg(cfg, args.config)
    folder, infos, _ = describe(training_dataset(cfg), hook['maps_dir'], hook['refiner'])
    decision = folder.plan(args.regenerate or hook.get('regenerate', False))
    done = decision == 'reuse' and all(osp.isfile(label_png_path(folder.path, i['img_id'])) for i in infos)
    return 'complete' if done else 'todo'


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description="Make a segmentation config's pseudo masks (its hook, no training)")
    parser.add_argument('config', help='segmentation config with an AdvCAMPseudoLabelHook in custom_hooks')
    parser.add_argument('--regenerate', action='store_true', help='replace masks made with other settings')
    parser.add_argument('--device', help='default: cuda:LOCAL_RANK if available, else cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value (MMEngine syntax)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options, launcher=args.launcher)
    rank, world_size, device = init_launcher(args.launcher, args.device)
    hook = pseudo_label_hook_cfg(cfg, args.config)
    summary = make_pseudo_masks(training_dataset(cfg), hook['maps_dir'], hook['refiner'],
                                regenerate=args.regenerate or hook.get('regenerate', False),
                                device=args.device or hook.get('device') or device)
    if rank == 0:
        print(f"{summary['plan']}: {summary['num_images']} pseudo masks in {summary['label_dir']} "
              f"({summary['num_generated']} made by {world_size} process(es), {summary['seconds']:.1f}s)", flush=True)


if __name__ == '__main__':
    main()
