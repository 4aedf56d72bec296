"""Stage: inter-pixel relation labels from class maps (IRN's ``step/cam_to_ir_label.py``).

Reads     a class-map folder (complete manifest); the IRNet config: ``ir_labels``
          settings and its training dataset (the images of the split, and the
          output folder: the dataset's ``mask_dir``).
Writes    ``<out_dir>/<image id>.png`` (0 = confident background, class id =
          confident foreground, 255 = unsure; :mod:`advcam_mm.core.ir_label`) and the manifest.
Settings  ``ir_labels``: ``conf_fg_thres``, ``conf_bg_thres`` (AdvCAM's 0.35 / 0.15; IRN's own
          0.30 / 0.05) and ``seed_crf``, IRN's dense CRF (:mod:`advcam_mm.core.crf`).

The CRF dominates the cost, so images run in worker processes (one thread
each); a finished file is kept, so a killed run resumes::

    python tools/cams_to_ir_labels.py IRN_CONFIG --cam-dir DIR [--split train_aug] [--out-dir DIR]
"""
import argparse
import functools
import os.path as osp

from ..core.ir_label import inter_pixel_relation_label
from ..fileio.cam_files import cam_file_path, load_cam_file
from ..fileio.images import read_rgb
from ..fileio.label_png import label_png_path, remove_stale_temp_files, save_label_png
from ..fileio.manifest import folder_input
from .datasets import build_dataset, dataset_input, samples
from .output_folder import OutputFolder
from .runner import load_config
from .settings import config_settings, seed_crf_settings
from .worker_pool import check_files_exist, map_images

STAGE = 'ir_labels'
IR_LABEL_KEYS = ('conf_fg_thres', 'conf_bg_thres')


def ir_label_settings(cfg, **overrides) -> dict:
    return config_settings(cfg, 'ir_labels', IR_LABEL_KEYS, **overrides)


def ir_label_dir_of(cfg) -> str:
    """The IR-label folder the IRNet config trains on (its training dataset's ``mask_dir``)."""
    dataset = cfg.train_dataloader.dataset
    mask_dir = dataset.get('mask_dir') or dict(dataset.get('data_prefix', {})).get('seg_map_path')
    if not mask_dir:
        raise ValueError("the IRNet config's train_dataloader.dataset names no mask_dir (the IR-label folder)")
    data_root = dataset.get('data_root') or ''
    return osp.normpath(mask_dir if osp.isabs(mask_dir) else osp.join(data_root, mask_dir))


def _ir_label_of_image(info, cam_dir, out_dir, conf_fg_thres, conf_bg_thres, crf):
    cam_path = cam_file_path(cam_dir, info['img_id'])
    maps = load_cam_file(cam_path)
    image = read_rgb(info['img_path'])
    if maps['high_res'].shape[1:] != image.shape[:2]:
        raise ValueError(f'{cam_path}: maps of size {maps["high_res"].shape[1:]} but image {info["img_path"]} '
                         f'is {image.shape[:2]}')
    label = inter_pixel_relation_label(image, maps['high_res'], maps['keys'], conf_fg_thres, conf_bg_thres, crf=crf)
    save_label_png(label_png_path(out_dir, info['img_id']), label)
    return info['img_id']


def describe(cfg, cam_dir: str, out_dir=None, split=None) -> tuple:
    """``(OutputFolder, data infos, settings)`` of a run."""
    settings = dict(ir_label_settings(cfg), crf=seed_crf_settings(cfg))
    out_dir = out_dir or ir_label_dir_of(cfg)
    dataset = build_dataset(cfg.train_dataloader.dataset, split, mask_dir=None, check_files=False)
    folder = OutputFolder(out_dir, STAGE, settings,
                          dict(class_maps=folder_input(cam_dir), dataset=dataset_input(dataset)),
                          patterns=('*.png',))
    return folder, samples(dataset), settings


def run(config: str, cam_dir: str, out_dir=None, split=None, regenerate=False, num_workers=2,
        cfg_options=None, progress=True) -> dict:
    """Write the IR labels of the images that lack one; return ``{'written', 'skipped', 'out_dir'}``."""
    cfg = load_config(config, cfg_options)
    folder, infos, settings = describe(cfg, cam_dir, out_dir, split)
    decision = folder.plan(regenerate)
    folder.start(decision)
    out_dir = folder.path
    todo = [i for i in infos if not osp.exists(label_png_path(out_dir, i['img_id']))]
    remove_stale_temp_files(out_dir, [label_png_path(out_dir, i['img_id']) for i in todo])
    check_files_exist([cam_file_path(cam_dir, i['img_id']) for i in todo], 'class-map file',
                      ' (run tools/make_cams.py on this split first)')
    check_files_exist([i['img_path'] for i in todo], 'image')
    print(f"IR labels of {len(infos)} images (conf_fg_thres {settings['conf_fg_thres']}, conf_bg_thres "
          f"{settings['conf_bg_thres']}, {decision}, {num_workers} workers) -> {out_dir}", flush=True)
    work = functools.partial(_ir_label_of_image, cam_dir=cam_dir, out_dir=out_dir, **settings)
    written = sum(1 for _ in map_images(work, todo, num_workers, 'IR labels', progress))
    folder.complete(num_images=len(infos))
    return {'written': written, 'skipped': len(infos) - len(todo), 'out_dir': out_dir, 'plan': decision}


def status(args) -> str:
    cfg = load_config(args.config, args.cfg_options)
    folder, infos, _ = describe(cfg, args.cam_dir, args.out_dir, args.split)
    decision = folder.plan(args.regenerate)
    done = decision == 'reuse' and all(osp.isfile(label_png_path(folder.path, i['img_id'])) for i in infos)
    return 'complete' if done else 'todo'


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description='Class maps -> IR labels (confident fg / bg / unsure)')
    parser.add_argument('config', help='IRNet config: ir_labels settings, images and output folder')
    parser.add_argument('--cam-dir', required=True, help='class-map folder (tools/make_cams.py)')
    parser.add_argument('--out-dir', help="default: the config's train_dataloader.dataset.mask_dir")
    parser.add_argument('--split', help="default: the config's training split")
    parser.add_argument('--num-workers', type=int, default=2, help='worker processes (0: none)')
    parser.add_argument('--regenerate', action='store_true', help='replace labels made with other settings')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. ir_labels.conf_fg_thres=0.30')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    result = run(args.config, args.cam_dir, args.out_dir, args.split, args.regenerate, args.num_workers,
                 args.cfg_options)
    print(f"wrote {result['written']}, kept {result['skipped']} finished", flush=True)


if __name__ == '__main__':
    main()
