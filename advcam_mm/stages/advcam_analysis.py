"""Stage: the paper's Figure 6, seed mIoU and proportion of noise at every AdvCAM iteration.

Reads     the classifier config (model, normalisation, ``label_generation`` as the base
          setting; the evaluation split and its ground truth, ``label_evaluation``) and checkpoint.
Writes    ``partials/<setting>/<image id>.npz`` (one image's counts,
          :mod:`advcam_mm.fileio.analysis_partials`), ``analysis.csv``, ``fig6ab.png``
          (and ``fig6cde.png`` when a parameter is swept) and the manifest.
Settings  the base climb (``steps``, ``scales``, ``flip``, ``amp``), the threshold sweep and the
          noise threshold; the swept values (``--mask-coefs``, ``--mask-threshs``, ``--step-sizes``)
          each have their own partials, so a rerun may add settings or images.

One climb per image and setting gives every iteration t = 1 ... steps
(:func:`advcam_mm.core.advcam.advcam_prefix_maps_batch`); the counts are
:mod:`advcam_mm.evaluation.advcam_iterations`. Ranks split the images::

    python tools/analyze_advcam.py CONFIG CHECKPOINT --out-dir DIR [--num-images 100] [--mask-coefs 0,7]
    torchrun --nproc_per_node N tools/analyze_advcam.py ... --launcher pytorch
"""
import argparse
import math
import os.path as osp
import time
from typing import Optional

import numpy as np
import torch

from ..core.advcam import SWEPT_PARAMETERS, advcam_prefix_maps_batch
from ..core.image_tensor import normalise_image
from ..core.size_groups import group_by_size
from ..evaluation.advcam_iterations import format_analysis_table, image_partials, iteration_curves
from ..evaluation.seed_metric import SEED_THRESHOLDS, parse_thresholds
from ..fileio.analysis_partials import (PARTIALS_DIR, load_partials, partial_path, save_partials,
                                        write_analysis_csv)
from ..fileio.images import read_rgb
from ..fileio.label_png import load_label_png
from ..fileio.manifest import file_input
from ..visualization import plot_figure6
from .class_maps import label_generation_settings
from .datasets import class_names, dataset_input, evaluation_dataset, samples
from .distributed import barrier_if_distributed, decide_on_rank_zero, init_launcher, this_rank_share
from .models import build_cam_model
from .output_folder import OutputFolder
from .progress import RankZeroProgress
from .runner import load_config
from .settings import normalisation
from .training import resolve_checkpoint

STAGE = 'advcam_analysis'


def parse_float_list(spec, what='values') -> list:
    """``'0,3.5,7'`` (or numbers) -> ``[0.0, 3.5, 7.0]``; a clear error otherwise."""
    if spec is None:
        return []
    if isinstance(spec, str):
        try:
            values = [float(v) for v in spec.split(',') if v.strip()]
        except ValueError:
            raise ValueError(f'bad {what} {spec!r}: expected a comma-separated list of numbers') from None
    else:
        values = [float(v) for v in np.asarray(spec, dtype=np.float64).reshape(-1)]
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f'bad {what} {spec!r}: values must be finite')
    return values


def sweep_settings(base: dict, mask_coefs=None, mask_threshs=None, step_sizes=None) -> list:
    """The climbing settings of Fig. 6: each list varies one parameter around ``base``
    (the config's ``label_generation``), the base first, duplicates merged."""
    base = {key: float(base[key]) for key in SWEPT_PARAMETERS}
    settings = [dict(base)]
    for key, values in zip(SWEPT_PARAMETERS, (mask_coefs, mask_threshs, step_sizes)):
        for value in parse_float_list(values, key):
            setting = dict(base, **{key: value})
            if setting not in settings:
                settings.append(setting)
    return settings


def compute_partials(model, infos, out_dir, settings, climb, thresholds, num_classes, mean, std, device='cpu',
                     rank=0, world_size=1, show_progress=True) -> dict:
    """Write this rank's per-image, per-setting partials that are missing; return its counts.

    Per setting, the images of one size climb together
    (:func:`~advcam_mm.core.advcam.advcam_prefix_maps_batch`, grouped as the class maps are).
    """
    mine = this_rank_share(infos, rank, world_size)
    weight = model.cam_weight.detach()
    progress = RankZeroProgress(len(mine) * len(settings), rank, enabled=show_progress,
                                title='analysis (image x setting)')
    written = skipped = 0
    start = time.perf_counter()
    inputs = {}

    def load(info):
        if info['img_id'] not in inputs:
            gt = load_label_png(info['seg_map_path'], 'ground-truth mask')
            rgb = read_rgb(info['img_path'])
            if rgb.shape[:2] != gt.shape:
                raise ValueError(f"{info['img_path']}: image is {rgb.shape[:2]} but ground truth "
                                 f"{info['seg_map_path']} is {gt.shape}")
            class_ids = torch.as_tensor(np.flatnonzero(np.asarray(info['gt_class_labels']) > 0))
            inputs[info['img_id']] = (normalise_image(rgb, mean, std, device), class_ids, gt)
        return inputs[info['img_id']]

    for setting in settings:
        todo = [info for info in mine if not osp.exists(partial_path(out_dir, setting, info['img_id']))]
        skipped += len(mine) - len(todo)
        for _ in range(len(mine) - len(todo)):
            progress.update(skipped=True)
        groups = group_by_size(todo, lambda info: tuple(load(info)[0].shape[-2:]), climb['lookahead'],
                               climb['max_group'])
        for group in groups:
            images, class_ids, gts = zip(*(load(info) for info in group))
            maps = advcam_prefix_maps_batch(
                model.cam_features, weight, list(images), list(class_ids), scales=climb['scales'],
                steps=climb['steps'], step_size=setting['step_size'], mask_thresh=setting['mask_thresh'],
                mask_coef=setting['mask_coef'], flip=climb['flip'], max_batch=climb['max_batch'],
                max_batch_pixels=climb['max_batch_pixels'], amp=climb['amp'],
                channels_last=climb['channels_last'], compile=climb['compile'])
            for info, image_maps, gt in zip(group, maps, gts):
                # float16 as in the class-map files, so t = steps is what make_cams + eval_seeds see.
                high_res = image_maps['high_res'].detach().cpu().numpy().astype(np.float16).astype(np.float32)
                save_partials(partial_path(out_dir, setting, info['img_id']),
                              image_partials(high_res, image_maps['keys'].numpy(), gt, thresholds, num_classes,
                                             info['seg_map_path']))
                written += 1
                progress.update()
    progress.close()
    return {'written': written, 'skipped': skipped, 'seconds': time.perf_counter() - start}


def describe(cfg, checkpoint, out_dir, split=None, num=None, noise_threshold=None) -> tuple:
    climb = label_generation_settings(cfg, method='advcam')
    thresholds = parse_thresholds(SEED_THRESHOLDS)
    dataset = evaluation_dataset(cfg, split)
    infos = samples(dataset)
    if num is not None:
        if num < 1:
            raise ValueError(f'--num-images must be >= 1, got {num}')
        infos = infos[:num]
    mean, std = normalisation(cfg)
    settings = dict(steps=int(climb['steps']), scales=[float(s) for s in climb['scales']], flip=bool(climb['flip']),
                    amp=climb['amp'], thresholds=thresholds.tolist(), noise_threshold=noise_threshold,
                    mean=mean, std=std)
    folder = OutputFolder(out_dir, STAGE, settings,
                          dict(classifier_checkpoint=file_input(resolve_checkpoint(checkpoint)), dataset=dataset_input(dataset)),
                          patterns=('*.csv', '*.png', osp.join(PARTIALS_DIR, '*', '*.npz')))
    return folder, dataset, infos, climb, thresholds


def analysed(folder: OutputFolder, settings: list, infos: list) -> bool:
    """True when the complete analysis in ``folder`` is of exactly these images and settings, partials and all."""
    if not folder.is_complete() or not osp.isfile(osp.join(folder.path, 'fig6ab.png')):
        return False
    outputs = folder.recorded_manifest().get('outputs', {})
    return outputs.get('num_images') == len(infos) and \
        all(s in outputs.get('settings_analysed', []) for s in settings) and \
        all(osp.isfile(partial_path(folder.path, s, i['img_id'])) for s in settings for i in infos)


def run(config, checkpoint, out_dir, split=None, num=None, steps=None, mask_coefs='0,7', mask_threshs=None,
        step_sizes=None, noise_threshold=None, regenerate=False, launcher='none', device=None,
        cfg_options=None) -> Optional[dict]:
    """Compute (this rank's share), then on rank 0 sum, write the CSV and plots and return the summary."""
    cfg = load_config(config, cfg_options, launcher=launcher)
    if steps is not None:
        cfg.label_generation.steps = steps
    rank, world_size, device = init_launcher(launcher, device)
    folder, dataset, infos, climb, thresholds = describe(cfg, checkpoint, out_dir, split, num, noise_threshold)
    settings = sweep_settings(climb, mask_coefs, mask_threshs, step_sizes)

    def plan():
        decision = folder.plan(regenerate)
        done = decision == 'reuse' and analysed(folder, settings, infos)
        if not done:
            folder.start(decision)
        return done
    done = decide_on_rank_zero(plan)
    barrier_if_distributed()
    names = class_names(dataset)
    if rank == 0:
        print(f"analysis of {len(infos)} images, {climb['steps']} iterations, scales {tuple(climb['scales'])}, "
              f'{len(settings)} setting(s), {world_size} process(es) -> {out_dir}', flush=True)
    if done:  # the same request again: the CSV and plots are kept, the table is summed from the partials
        compute = {'written': 0, 'skipped': len(this_rank_share(infos, rank, world_size)) * len(settings),
                   'seconds': 0.0}
    else:
        model = build_cam_model(cfg, resolve_checkpoint(checkpoint), device)
        mean, std = normalisation(cfg)
        compute = compute_partials(model, infos, out_dir, settings, climb, thresholds, len(names), mean, std,
                                   device, rank, world_size)
    barrier_if_distributed()
    if rank != 0:
        return None

    def partials_of(index):
        for info in infos:
            yield load_partials(partial_path(out_dir, settings[index], info['img_id']), climb['steps'],
                                len(thresholds))
    result = iteration_curves(partials_of, settings, thresholds, len(names), climb['steps'], noise_threshold)
    result.update(class_names=names, csv=osp.join(out_dir, 'analysis.csv'), compute=compute)
    if done:
        result['plots'] = [p for p in (osp.join(out_dir, name) for name in ('fig6ab.png', 'fig6cde.png'))
                           if osp.isfile(p)]
    else:
        write_analysis_csv(result, result['csv'])
        result['plots'] = plot_figure6(result, out_dir, settings[0])
        folder.complete(settings_analysed=settings, num_images=len(infos))
    result['table'] = format_analysis_table(result)
    return result


def status(args) -> str:
    cfg = load_config(args.config, args.cfg_options)
    if args.steps is not None:
        cfg.label_generation.steps = args.steps
    folder, _, infos, climb, _ = describe(cfg, args.checkpoint, args.out_dir, args.split, args.num,
                                          args.noise_threshold)
    wanted = sweep_settings(climb, args.mask_coefs, args.mask_threshs, args.step_sizes)
    done = folder.plan(args.regenerate) == 'reuse' and analysed(folder, wanted, infos)
    return 'complete' if done else 'todo'


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description='Seed mIoU and noise per AdvCAM iteration (paper Fig. 6)')
    parser.add_argument('config', help='classifier config')
    parser.add_argument('checkpoint', help='classifier checkpoint, or its finished training work dir')
    parser.add_argument('--out-dir', required=True, help='folder for analysis.csv, plots and partials/')
    parser.add_argument('--split', help="default: the config's label_evaluation.split (train)")
    parser.add_argument('--num-images', dest='num', type=int, help='the first N images of the split (default all)')
    parser.add_argument('--steps', type=int, help="iterations (default: the config's label_generation.steps)")
    parser.add_argument('--mask-coefs', default='0,7', help='lambda values (0: no regularisation)')
    parser.add_argument('--mask-threshs', help="mask thresholds tau (default: the config's)")
    parser.add_argument('--step-sizes', help="step sizes xi (default: the config's)")
    parser.add_argument('--noise-threshold', type=float,
                        help="threshold of the noise curve (one of the sweep's; default: CAM's best)")
    parser.add_argument('--regenerate', action='store_true', help='replace an analysis made with other settings')
    parser.add_argument('--device', help='default: cuda:LOCAL_RANK if available, else cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    result = run(args.config, args.checkpoint, args.out_dir, args.split, args.num, args.steps, args.mask_coefs,
                 args.mask_threshs, args.step_sizes, args.noise_threshold, args.regenerate, args.launcher,
                 args.device, args.cfg_options)
    if result is not None:
        compute = result['compute']
        print(f"rank 0: computed {compute['written']}, kept {compute['skipped']} cached, {compute['seconds']:.1f}s")
        print(result['table'])
        print(f"results written to {result['csv']} and {', '.join(result['plots'])}", flush=True)


if __name__ == '__main__':
    main()
