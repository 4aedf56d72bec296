"""Stage: CAM or AdvCAM class maps of a split (paper Sec. 3; the authors' ``obtain_CAM_masking.py``).

Reads     the classifier config (model, normalisation, ``label_generation``, its
          training dataset for the images and image-level labels) and checkpoint.
Writes    ``<out_dir>/<image id>.npy`` (:mod:`advcam_mm.fileio.cam_files`) and the manifest.
Settings  ``label_generation``: ``method`` (``cam``: IRN's multi-scale CAM; ``advcam``),
          ``scales``, ``flip``; for AdvCAM ``steps``, ``step_size``, ``mask_thresh``,
          ``mask_coef`` (Eq. 7) and ``amp``; ``storage`` (the files' precision,
          :data:`advcam_mm.fileio.cam_files.STORAGES`). Plus the normalisation and the
          checkpoint's digest. Speed only (not recorded): ``max_batch`` / ``max_batch_pixels``
          (memory caps), ``lookahead`` / ``max_group`` (how images of one size are grouped),
          ``channels_last``, ``compile``, ``num_workers`` (decoding processes).

AdvCAM climbs all classes x views x images of one size together
(:func:`advcam_mm.core.advcam.advcam_maps_stream`): images are decoded in
DataLoader workers and the files written by a background thread. Ranks split
the images; every file is written atomically and a finished file is kept, so
a killed run resumes and N processes write what one would::

    python tools/make_cams.py CONFIG CHECKPOINT --out-dir DIR [--method cam|advcam] [--split train_aug]
    torchrun --nproc_per_node N tools/make_cams.py ... --launcher pytorch
"""
import argparse
import os.path as osp
import time

import numpy as np
import torch

from ..core.advcam import advcam_maps_stream
from ..core.cam import multiscale_cam
from ..datasets.class_map_inputs import ClassMapInputs, class_map_loader
from ..fileio.background_writer import BackgroundWriter
from ..fileio.cam_files import STORAGES, cam_file_path, save_cam_file
from ..fileio.label_png import remove_stale_temp_files
from ..fileio.manifest import file_input
from .datasets import build_dataset, dataset_input, samples
from .distributed import barrier_if_distributed, decide_on_rank_zero, init_launcher, this_rank_share
from .models import build_cam_model
from .output_folder import OutputFolder
from .progress import RankZeroProgress
from .runner import load_config
from .settings import config_settings, normalisation
from .training import resolve_checkpoint

STAGE = 'class_maps'
LABEL_GENERATION_KEYS = ('method', 'scales', 'flip', 'steps', 'step_size', 'mask_thresh', 'mask_coef', 'amp',
                         'storage', 'max_batch', 'max_batch_pixels', 'lookahead', 'max_group', 'channels_last',
                         'compile', 'num_workers')
#: Settings that change the speed, not the maps (beyond float rounding): not recorded.
NOT_RESULT_KEYS = ('max_batch', 'max_batch_pixels', 'lookahead', 'max_group', 'channels_last', 'compile',
                   'num_workers')
ADVCAM_ONLY_KEYS = ('steps', 'step_size', 'mask_thresh', 'mask_coef', 'amp')
METHODS = ('cam', 'advcam')


def label_generation_settings(cfg, **overrides) -> dict:
    """The config's ``label_generation`` with ``overrides`` (e.g. ``method='cam'``)."""
    settings = config_settings(cfg, 'label_generation', LABEL_GENERATION_KEYS, **overrides)
    if settings['method'] not in METHODS:
        raise ValueError(f"label_generation.method must be one of {METHODS}, got {settings['method']!r}")
    if settings['storage'] not in STORAGES:
        raise ValueError(f"label_generation.storage must be one of {STORAGES}, got {settings['storage']!r}")
    return settings


def recorded_settings(settings: dict, mean, std) -> dict:
    """What the manifest records: the settings that change the maps, and the normalisation."""
    recorded = {k: v for k, v in settings.items() if k not in NOT_RESULT_KEYS}
    if recorded['method'] == 'cam':
        recorded = {k: v for k, v in recorded.items() if k not in ADVCAM_ONLY_KEYS}
    return dict(recorded, mean=list(mean), std=list(std))


def generate_class_maps(model, infos: list, out_dir: str, settings: dict, mean, std, device='cpu',
                        rank: int = 0, world_size: int = 1, show_progress: bool = True) -> dict:
    """Write ``<out_dir>/<id>.npy`` for this rank's share of ``infos`` (data infos with
    ``img_id``, ``img_path``, ``gt_class_labels``); finished files are kept.

    Returns ``{'written', 'skipped', 'seconds'}`` of this rank.
    """
    mine = this_rank_share(infos, rank, world_size)
    todo = [info for info in mine if not osp.exists(cam_file_path(out_dir, info['img_id']))]
    remove_stale_temp_files(out_dir, [cam_file_path(out_dir, info['img_id']) for info in todo])
    progress = RankZeroProgress(len(mine), rank, enabled=show_progress, title=f"{settings['method']} maps")
    for _ in range(len(mine) - len(todo)):
        progress.update(skipped=True)
    start = time.perf_counter()
    samples = [(info['img_id'], info['img_path'], np.flatnonzero(np.asarray(info['gt_class_labels']) > 0))
               for info in todo]
    loader = class_map_loader(ClassMapInputs(samples, mean, std), settings['num_workers'],
                              pin_memory=str(device).startswith('cuda'))
    with BackgroundWriter() as writer:
        for sample, maps in _maps_of(model, loader, settings, device):
            writer.submit(save_cam_file, cam_file_path(out_dir, sample.image_id), maps['keys'],
                          maps['strided'].cpu(), maps['high_res'].cpu(), settings['storage'])
            progress.update()
    progress.close()
    return {'written': len(todo), 'skipped': len(mine) - len(todo), 'seconds': time.perf_counter() - start}


def _maps_of(model, loader, settings: dict, device):
    """``(sample, maps)`` of every sample of ``loader``: IRN's CAM image by image, AdvCAM batched."""
    weight = model.cam_weight.detach()
    if settings['method'] == 'cam':
        for sample in loader:
            yield sample, multiscale_cam(model.cam_features, weight, sample.image.to(device), sample.class_ids,
                                         scales=settings['scales'], flip=settings['flip'])
        return
    if settings['channels_last']:
        model = model.to(memory_format=torch.channels_last)
    yield from advcam_maps_stream(
        model.cam_features, weight, loader, settings['lookahead'], settings['max_group'],
        scales=settings['scales'], steps=settings['steps'], step_size=settings['step_size'],
        mask_thresh=settings['mask_thresh'], mask_coef=settings['mask_coef'], flip=settings['flip'],
        max_batch=settings['max_batch'], max_batch_pixels=settings['max_batch_pixels'], amp=settings['amp'],
        channels_last=settings['channels_last'], compile=settings['compile'])


def describe(cfg, checkpoint: str, out_dir: str, split: str, method=None) -> tuple:
    """``(OutputFolder, data infos, settings)`` of a run (nothing is read but the split and the checkpoint)."""
    settings = label_generation_settings(cfg, method=method)
    mean, std = normalisation(cfg)
    checkpoint = resolve_checkpoint(checkpoint)
    dataset = build_dataset(cfg.train_dataloader.dataset, split)
    folder = OutputFolder(out_dir, STAGE, recorded_settings(settings, mean, std),
                          dict(classifier_checkpoint=file_input(checkpoint), dataset=dataset_input(dataset)),
                          patterns=('*.npy',))
    return folder, samples(dataset), settings


def run(config: str, checkpoint: str, out_dir: str, split: str = 'train_aug', method=None, regenerate=False,
        launcher='none', device=None, cfg_options=None, show_progress=True) -> dict:
    """Make the class maps of ``split`` in ``out_dir`` (all ranks call this); return this rank's counts."""
    cfg = load_config(config, cfg_options, launcher=launcher)
    rank, world_size, device = init_launcher(launcher, device)
    folder, infos, settings = describe(cfg, checkpoint, out_dir, split, method)

    def plan():
        decision = folder.plan(regenerate)
        folder.start(decision)
        return decision
    decision = decide_on_rank_zero(plan)
    barrier_if_distributed()
    if rank == 0:
        print(f"{settings['method']} maps of {len(infos)} images of '{split}' ({decision}, {world_size} "
              f'process(es)) -> {out_dir}', flush=True)
    model = build_cam_model(cfg, resolve_checkpoint(checkpoint), device)
    mean, std = normalisation(cfg)
    result = generate_class_maps(model, infos, out_dir, settings, mean, std, device, rank, world_size,
                                 show_progress)
    barrier_if_distributed()
    if rank == 0:
        missing = [i['img_id'] for i in infos if not osp.isfile(cam_file_path(out_dir, i['img_id']))]
        if missing:
            raise RuntimeError(f'{out_dir}: {len(missing)} class-map files still missing (e.g. {missing[0]})')
        folder.complete(num_images=len(infos))
    return dict(result, plan=decision)


def status(args) -> str:
    """``'complete'`` when ``args``' run would make nothing, else ``'todo'`` (a mismatch raises)."""
    cfg = load_config(args.config, args.cfg_options)
    folder, infos, _ = describe(cfg, args.checkpoint, args.out_dir, args.split, args.method)
    decision = folder.plan(args.regenerate)
    done = decision == 'reuse' and all(osp.isfile(cam_file_path(args.out_dir, i['img_id'])) for i in infos)
    return 'complete' if done else 'todo'


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description='CAM / AdvCAM class maps of a dataset split')
    parser.add_argument('config', help='classifier config (its label_generation holds the settings)')
    parser.add_argument('checkpoint', help='classifier checkpoint, or its finished training work dir')
    parser.add_argument('--out-dir', required=True, help='folder for <image_id>.npy files and the manifest')
    parser.add_argument('--method', choices=METHODS, help="default: the config's label_generation.method")
    parser.add_argument('--split', default='train_aug', help='split name (or list file) of the images')
    parser.add_argument('--regenerate', action='store_true',
                        help='replace maps made with other settings instead of refusing them')
    parser.add_argument('--device', help='default: cuda:LOCAL_RANK if available, else cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. label_generation.steps=8')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    result = run(args.config, args.checkpoint, args.out_dir, args.split, args.method, args.regenerate,
                 args.launcher, args.device, args.cfg_options)
    print(f"wrote {result['written']}, kept {result['skipped']} finished, {result['seconds']:.1f}s", flush=True)


if __name__ == '__main__':
    main()
