"""Stage: per-image panels that follow images through the chain (:func:`advcam_mm.visualization.render_panel`).

Reads     a config of the dataset (images, ground truth of the evaluation split, class
          names); one or more class-map folders (e.g. CAM and AdvCAM) with a seed
          threshold each (a number, or a seed-evaluation folder: its best threshold);
          label folders to show beside the ground truth (pseudo masks, a segmentor's predictions).
Writes    ``<out_dir>/<image id>.png`` and the manifest.
Settings  the images, the rows and their thresholds, the CRF row.

    python tools/visualize_cams.py CONFIG --maps CAM=DIR [--maps AdvCAM=DIR2] --out-dir DIR \\
        [--ids ID ...|--num 8] [--seed-threshold T|EVAL_DIR ...] [--labels 'pseudo mask=DIR' ...]
"""
import argparse
import json
import os.path as osp

from ..core.seeds import seed_with_crf, seeds_from_maps
from ..fileio.cam_files import cam_file_path, load_cam_file
from ..fileio.images import read_rgb
from ..fileio.label_png import label_png_path, load_label_png
from ..fileio.manifest import folder_input
from ..visualization import render_panel, save_png_bytes
from .datasets import class_names, dataset_input, evaluation_dataset, samples
from .output_folder import METRICS_FILE, OutputFolder
from .runner import load_config
from .settings import seed_crf_settings

STAGE = 'panels'


def named_folders(items, what) -> list:
    """``['CAM=dir', ...]`` -> ``[('CAM', 'dir'), ...]``."""
    pairs = []
    for item in items or []:
        if '=' not in item:
            raise ValueError(f'{what} {item!r}: expected NAME=FOLDER')
        name, folder = item.split('=', 1)
        pairs.append((name.strip(), folder))
    return pairs


def seed_threshold(spec) -> float:
    """A number, or a seed-evaluation folder (its ``metrics.json``'s best threshold)."""
    spec = str(spec)
    path = osp.join(spec, METRICS_FILE) if osp.isdir(spec) else spec
    if osp.isfile(path):
        with open(path) as f:
            return float(json.load(f)['best_threshold'])
    try:
        return float(spec)
    except ValueError:
        raise ValueError(f'seed threshold {spec!r}: expected a number or a seed-evaluation folder') from None


def select_infos(infos, maps, ids=None, num=8) -> list:
    """The samples of ``ids`` (each must have maps in every folder), else the first ``num`` that do."""
    def has_maps(info):
        return all(osp.isfile(cam_file_path(folder, info['img_id'])) for _, folder in maps)
    if ids:
        by_id = {info['img_id']: info for info in infos}
        unknown = [i for i in ids if i not in by_id]
        if unknown:
            raise KeyError(f'image {unknown[0]} is not in the evaluation split')
        chosen = [by_id[i] for i in ids]
        missing = [i['img_id'] for i in chosen if not has_maps(i)]
        if missing:
            raise FileNotFoundError(f'image {missing[0]} has no class-map file in every --maps folder')
        return chosen
    return [info for info in infos if has_maps(info)][:num]


def panel_of(info, maps, thresholds, labels, names, palette=None, crf=None) -> bytes:
    """One panel; ``crf``: the settings of the seeds' CRF (None: no CRF row)."""
    rgb = read_rgb(info['img_path'])
    sources = []
    for (name, folder), threshold in zip(maps, thresholds):
        path = cam_file_path(folder, info['img_id'])
        content = load_cam_file(path)
        if content['high_res'].shape[1:] != rgb.shape[:2]:
            raise ValueError(f"{path}: maps of size {content['high_res'].shape[1:]} but image "
                             f"{info['img_path']} is {rgb.shape[:2]}")
        source = dict(name=name, keys=content['keys'], high_res=content['high_res'], threshold=threshold,
                      seed=seeds_from_maps(content['high_res'], content['keys'], threshold))
        if crf is not None:
            source['crf'] = seed_with_crf(rgb, content['high_res'], content['keys'], threshold, **crf)
        sources.append(source)
    shown = [('ground truth', load_label_png(info['seg_map_path'], 'ground-truth mask'))]
    for title, folder in labels:
        path = label_png_path(folder, info['img_id'])
        if osp.isfile(path):
            shown.append((title, load_label_png(path, title)))
    for title, label in shown:
        if label.shape != rgb.shape[:2]:
            raise ValueError(f"{info['img_id']}: {title} is {label.shape} but the image is {rgb.shape[:2]}")
    return render_panel(rgb, sources, names, labels=shown, image_id=info['img_id'], palette=palette)


def describe(cfg, maps, out_dir, thresholds=None, labels=(), ids=None, num=8, split=None, crf=True) -> tuple:
    """``(OutputFolder, dataset, data infos, thresholds)`` of a run."""
    dataset = evaluation_dataset(cfg, split)
    thresholds = [seed_threshold(t) for t in (thresholds or [0.15])]
    if len(thresholds) == 1:
        thresholds = thresholds * len(maps)
    if len(thresholds) != len(maps):
        raise ValueError(f'{len(thresholds)} seed thresholds for {len(maps)} class-map folders')
    infos = select_infos(samples(dataset), maps, ids, num)
    inputs = {f'maps_{name}': folder_input(folder) for name, folder in maps}
    inputs.update({f'labels_{title}': folder_input(folder, required=False) for title, folder in labels})
    inputs['dataset'] = dataset_input(dataset)
    crf = seed_crf_settings(cfg) if crf else None
    folder = OutputFolder(out_dir, STAGE, dict(ids=[i['img_id'] for i in infos], rows=[n for n, _ in maps],
                                               labels=[t for t, _ in labels], thresholds=thresholds, crf=crf),
                          inputs, patterns=('*.png',))
    return folder, dataset, infos, thresholds


def run(config, maps, out_dir, thresholds=None, labels=(), ids=None, num=8, split=None, crf=True,
        regenerate=False, cfg_options=None) -> list:
    """Write the panels; return their paths. ``maps``/``labels``: ``(name, folder)`` pairs."""
    cfg = load_config(config, cfg_options)
    folder, dataset, infos, thresholds = describe(cfg, maps, out_dir, thresholds, labels, ids, num, split, crf)
    decision = folder.plan(regenerate)
    folder.start(decision)
    names = class_names(dataset)
    paths = []
    for info in infos:
        path = osp.join(out_dir, f"{info['img_id']}.png")
        if decision == 'reuse' and osp.isfile(path):
            paths.append(path)
            continue
        save_png_bytes(path, panel_of(info, maps, thresholds, labels, names, dataset.metainfo.get('palette'),
                                      folder.settings['crf']))
        paths.append(path)
    folder.complete(num_panels=len(paths))
    return paths


def status(args) -> str:
    """``'complete'`` when ``args``' run would make nothing, else ``'todo'`` (a mismatch raises)."""
    cfg = load_config(args.config, args.cfg_options)
    folder, _, infos, _ = describe(cfg, named_folders(args.maps, '--maps'), args.out_dir, args.seed_threshold,
                                   named_folders(args.labels, '--labels'), args.ids, args.num, args.split,
                                   not args.no_crf)
    done = folder.plan(args.regenerate) == 'reuse' and \
        all(osp.isfile(osp.join(args.out_dir, f"{i['img_id']}.png")) for i in infos)
    return 'complete' if done else 'todo'


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description='Per-image panels: maps, seeds (+CRF), masks, predictions')
    parser.add_argument('config', help='a config of the dataset (images, label_evaluation, classes)')
    parser.add_argument('--maps', nargs='+', required=True, metavar='NAME=DIR', help='class-map folders, one row each')
    parser.add_argument('--seed-threshold', nargs='+', metavar='T|EVAL_DIR',
                        help='per --maps folder: a threshold or its seed-evaluation folder (default 0.15)')
    parser.add_argument('--labels', nargs='+', default=[], metavar='TITLE=DIR',
                        help='label folders shown beside the ground truth (pseudo masks, predictions)')
    parser.add_argument('--ids', nargs='+', help='image ids (default: the first --num of the split)')
    parser.add_argument('--num', type=int, default=8, help='number of images when no --ids')
    parser.add_argument('--split', help="default: the config's label_evaluation.split")
    parser.add_argument('--out-dir', required=True, help='folder for <image_id>.png panels')
    parser.add_argument('--no-crf', action='store_true', help='leave out the CRF-refined seeds')
    parser.add_argument('--regenerate', action='store_true')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    paths = run(args.config, named_folders(args.maps, '--maps'), args.out_dir, args.seed_threshold,
                named_folders(args.labels, '--labels'), args.ids, args.num, args.split, not args.no_crf,
                args.regenerate, args.cfg_options)
    print(f'wrote {len(paths)} panel(s) to {args.out_dir}')


if __name__ == '__main__':
    main()
