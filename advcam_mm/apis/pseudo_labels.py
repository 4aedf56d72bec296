"""AdvCAM pseudo labels for a segmentation training set: made once, on all ranks, kept with a manifest.

The last step of AdvCAM's weakly supervised recipe before the segmentation
network (Lee et al., CVPR 2021, Sec. 4.1): class maps of the image-level
classifier (CAM or AdvCAM, :mod:`.make_cams`) become one label PNG per
training image through a *refiner*:

* ``'none'``: the seeds ``argmax([bg_threshold, maps])`` (:func:`advcam_mm.core.seeds.seeds_from_maps`);
* ``'crf'``: those seeds refined by IRN's dense CRF (the paper's "+CRF" seeds);
* ``'irn'``: IRN's random walk over a trained IRNet's boundary map (the
  paper's pseudo masks, :mod:`.sem_seg_labels`), given the IRNet config and checkpoint.

:class:`PseudoLabelGenerator` makes exactly the files that a segmentation
dataset reads: the image ids and label paths are taken from the dataset's
samples (``img_path`` -> id, ``seg_map_path`` -> label file), so the folder
the hook fills and the folder the dataset reads are one by construction.
The image-level labels come from the classifier config's dataset type
(``cls_labels.npy``) built on the segmentation dataset's ``data_root`` and
split.

Bookkeeping, so that hours of AdvCAM are never silently redone or mixed:

* ``<label_dir>/pseudo_label_manifest.json`` records what made the labels
  (``settings``: class-map method and parameters, classifier checkpoint
  SHA-256, refiner and its parameters; ``sources``: paths, sizes, mtimes;
  ``splits``) and whether the folder is complete;
* a folder whose manifest matches and whose files all exist is reused
  untouched; missing files (an interrupted run, a larger split) are made with
  the same settings; a manifest with other settings is refused with a message
  naming the differences, unless ``regenerate=True`` (then the labels - and
  the class maps if *their* settings changed - are deleted and remade);
* PNG files without a manifest are never deleted or overwritten (they may be
  ground truth): such a folder is refused;
* ``<maps_dir>/class_maps_manifest.json`` does the same for the class maps;
  maps found without a manifest (made by ``tools/make_cams.py``) are adopted
  with a warning, since their settings cannot be checked.

Rank 0 decides and broadcasts the plan; every rank then makes its share
(``ids[rank::world_size]``) of the class maps and of the labels, each file
written atomically; barriers separate the phases, so when :meth:`run`
returns every label exists on every rank.
"""
import copy
import datetime
import glob
import hashlib
import json
import os
import os.path as osp
import time
from typing import List, Optional

import numpy as np
import torch
from mmengine.dist import barrier, broadcast_object_list, get_dist_info
from mmengine.logging import print_log

from ..core.seeds import seed_with_crf, seeds_from_maps
from ..fileio.atomic import atomic_write
from ..fileio.cam_files import cam_file_path, load_cam_file
from ..fileio.label_png import label_png_path, remove_stale_temp_files, save_label_png
from .make_cams import build_cam_model, generate_class_maps, label_generation_settings, read_rgb
from .progress import RankZeroProgress

MANIFEST_NAME = 'pseudo_label_manifest.json'
MAPS_MANIFEST_NAME = 'class_maps_manifest.json'
MANIFEST_FORMAT = 1

#: Background score of the seed refiners ('none', 'crf'). AdvCAM sweeps 0.15..0.34 for its
#: seeds (``run_sample.py``) and labels the final masks at ``sem_seg_bg_thres=0.25``;
#: 0.25 is that value (tune it with ``tools/eval_seeds.py``, which reports the best threshold).
DEFAULT_SEED_BG_THRESHOLD = 0.25
#: IRN's dense CRF for seeds (``imutils.crf_inference_label``): 10 iterations, unary confidence 0.7.
DEFAULT_SEED_CRF = dict(t=10, gt_prob=0.7)
REFINERS = ('none', 'crf', 'irn')
#: Settings of AdvCAM's climbing that do not change the maps' values.
_NON_RESULT_KEYS = ('max_batch',)
_ADVCAM_ONLY_KEYS = ('steps', 'step_size', 'mask_thresh', 'mask_coef', 'amp')


class PseudoLabelError(RuntimeError):
    """A pseudo-label folder that cannot be used or made as configured; the message says why."""


# -- settings ----------------------------------------------------------------------------------

def refiner_settings(refiner) -> dict:
    """Full refiner settings from ``'none'``/``'crf'``/``'irn'`` or a dict with ``type``.

    ``none``: ``bg_threshold``; ``crf``: ``bg_threshold``, ``t``, ``gt_prob`` (both ignore
    ``config``/``checkpoint``, so ``--cfg-options custom_hooks.0.refiner.type=crf`` works on
    a config whose refiner is IRN's);
    ``irn``: ``config`` and ``checkpoint`` of the IRNet plus optional
    random-walk overrides (``beta``, ``exp_times``, ``sem_seg_bg_thres``,
    ``radius``, ``cam_power``; defaults: the IRNet config's ``random_walk``,
    else AdvCAM's).
    """
    refiner = dict(type=refiner) if isinstance(refiner, str) else dict(refiner or {})
    kind = refiner.pop('type', None)
    if kind not in REFINERS:
        raise ValueError(f"refiner type must be one of {REFINERS}, got {kind!r}")
    if kind != 'irn':  # an IRN config switched to seeds by --cfg-options ...refiner.type=crf keeps these
        refiner.pop('config', None)
        refiner.pop('checkpoint', None)
    if kind == 'none':
        defaults = dict(bg_threshold=DEFAULT_SEED_BG_THRESHOLD)
    elif kind == 'crf':
        defaults = dict(bg_threshold=DEFAULT_SEED_BG_THRESHOLD, **DEFAULT_SEED_CRF)
    else:
        for key in ('config', 'checkpoint'):
            if not refiner.get(key):
                raise ValueError(f"refiner 'irn' needs the IRNet {key} (refiner=dict(type='irn', "
                                 f"config=..., checkpoint=...))")
        from .sem_seg_labels import DEFAULT_RANDOM_WALK
        defaults = dict(config=None, checkpoint=None, **{k: None for k in DEFAULT_RANDOM_WALK})
    unknown = set(refiner) - set(defaults)
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)} for refiner '{kind}'; known: {sorted(defaults)}")
    return dict(type=kind, **{**defaults, **refiner})


_SHA_CACHE = {}


def file_identity(path: Optional[str]) -> dict:
    """``path``, ``size``, ``mtime`` and ``sha256`` of a file (``sha256`` None when it is missing)."""
    if path is None:
        return dict(path=None, size=None, mtime=None, sha256=None)
    path = osp.abspath(path)
    if not osp.isfile(path):
        return dict(path=path, size=None, mtime=None, sha256=None)
    stat = os.stat(path)
    key = (path, stat.st_size, stat.st_mtime_ns)
    if key not in _SHA_CACHE:
        digest = hashlib.sha256()
        with open(path, 'rb') as f:
            for block in iter(lambda: f.read(1 << 22), b''):
                digest.update(block)
        _SHA_CACHE[key] = digest.hexdigest()
    mtime = datetime.datetime.fromtimestamp(stat.st_mtime).isoformat(timespec='seconds')
    return dict(path=path, size=stat.st_size, mtime=mtime, sha256=_SHA_CACHE[key])


def _jsonable(value):
    return json.loads(json.dumps(value))


def _flatten(settings, prefix=''):
    flat = {}
    for key, value in settings.items():
        name = f'{prefix}{key}'
        if isinstance(value, dict):
            flat.update(_flatten(value, name + '.'))
        else:
            flat[name] = value
    return flat


def settings_differences(recorded: dict, expected: dict) -> List[str]:
    """Human-readable ``key: recorded -> expected`` lines; an expected ``None`` (unknown) matches anything."""
    recorded, expected = _flatten(_jsonable(recorded)), _flatten(_jsonable(expected))
    lines = []
    for key in sorted(set(recorded) | set(expected)):
        old, new = recorded.get(key, '<absent>'), expected.get(key, '<absent>')
        if new is None and key.endswith('sha256'):
            continue
        if old != new:
            lines.append(f'{key}: {old!r} -> {new!r}')
    return lines


def read_manifest(path: str) -> Optional[dict]:
    if not osp.isfile(path):
        return None
    try:
        with open(path) as f:
            manifest = json.load(f)
    except (OSError, ValueError) as error:
        raise PseudoLabelError(f'{path}: unreadable manifest ({error}); delete it together with the '
                               f'files of its folder to start over') from error
    if not isinstance(manifest, dict) or 'settings' not in manifest:
        raise PseudoLabelError(f'{path}: not a pseudo-label manifest (no "settings")')
    return manifest


def write_manifest(path: str, manifest: dict) -> None:
    with atomic_write(path, 'w') as f:
        json.dump(_jsonable(manifest), f, indent=2, sort_keys=True)


# -- the dataset's targets -----------------------------------------------------------------------

def _unwrap(dataset):
    while not hasattr(dataset, 'data_prefix') and hasattr(dataset, 'dataset'):
        dataset = dataset.dataset
    if hasattr(dataset, 'datasets'):
        raise PseudoLabelError(f'{type(dataset).__name__}: a concatenation of datasets is not supported '
                               'by the pseudo-label hook; label each dataset separately')
    return dataset


def segmentation_targets(dataset, label_dir: Optional[str] = None) -> dict:
    """Ids, image paths and label paths of ``dataset``'s samples, and their common label folder.

    Every sample's ``seg_map_path`` must be ``<label_dir>/<id>.png``, where
    ``id`` is the image file's name without extension. A given ``label_dir``
    must be that folder.
    """
    dataset = _unwrap(dataset)
    name = type(dataset).__name__
    ids, image_paths, label_paths = [], [], []
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        if not info.get('seg_map_path'):
            raise PseudoLabelError(f'{name}: samples have no seg_map_path; give the training dataset a '
                                   'mask folder (mask_dir) for the pseudo labels')
        image_id = osp.splitext(osp.basename(info['img_path']))[0]
        ids.append(info.get('img_id', image_id))
        image_paths.append(info['img_path'])
        label_paths.append(info['seg_map_path'])
    if not ids:
        raise PseudoLabelError(f'{name}: the training dataset is empty')
    folders = {osp.normpath(osp.abspath(osp.dirname(p))) for p in label_paths}
    if len(folders) != 1:
        raise PseudoLabelError(f'{name}: masks come from several folders {sorted(folders)[:3]}; the '
                               'pseudo labels need one folder')
    folder = folders.pop()
    if label_dir is not None and osp.normpath(osp.abspath(label_dir)) != folder:
        raise PseudoLabelError(f'the pseudo-label hook writes to {osp.abspath(label_dir)} but the training '
                               f'dataset reads its masks from {folder}: set one folder (the dataset\'s '
                               'mask_dir) and leave the hook\'s label_dir unset')
    for image_id, path in zip(ids, label_paths):
        if osp.normpath(osp.abspath(path)) != osp.normpath(label_png_path(folder, image_id)):
            raise PseudoLabelError(f'{name}: mask path {path} of image {image_id} is not '
                                   f'<mask folder>/<image id>.png')
    return dict(ids=ids, image_paths=image_paths, label_paths=label_paths, label_dir=folder,
                data_root=getattr(dataset, 'data_root', None), ann_file=getattr(dataset, 'ann_file', None),
                num_classes=len(dataset.metainfo.get('classes', ())))


class _InfoSubset:
    """The samples of a dataset whose ``img_id`` is in ``ids`` (what ``generate_class_maps`` needs)."""

    def __init__(self, dataset, ids):
        wanted = set(ids)
        self.infos = [info for info in (dataset.get_data_info(i) for i in range(len(dataset)))
                      if info['img_id'] in wanted]

    def __len__(self):
        return len(self.infos)

    def get_data_info(self, index):
        return self.infos[index]


# -- the generator ---------------------------------------------------------------------------------

class PseudoLabelGenerator:
    """Make (or reuse) the pseudo labels of a segmentation dataset; see the module docstring.

    Args:
        classifier_config (str): the CAM classifier's config (model, normalisation,
            classification dataset type, ``label_generation`` defaults).
        classifier_checkpoint (str): its trained weights.
        method (str, optional): ``'cam'`` or ``'advcam'``; default the config's.
        label_generation (dict, optional): overrides of the config's
            ``label_generation`` (e.g. ``dict(steps=27, scales=(1.0, 0.5, 1.5, 2.0))``).
        refiner (str | dict): see :func:`refiner_settings`; default ``'crf'``.
        maps_dir (str, optional): folder for the ``<id>.npy`` class maps;
            default ``<label_dir>_class_maps``.
        label_dir (str, optional): must equal the dataset's mask folder when given.
        regenerate (bool): replace labels (and maps) made with other settings
            instead of refusing them.
        device (str, optional): default ``cuda:<current>`` when CUDA is available, else ``cpu``.
        show_progress (bool): progress lines on rank 0.
    """

    def __init__(self, classifier_config: str, classifier_checkpoint: str, method: Optional[str] = None,
                 label_generation: Optional[dict] = None, refiner='crf', maps_dir: Optional[str] = None,
                 label_dir: Optional[str] = None, regenerate: bool = False, device: Optional[str] = None,
                 show_progress: bool = True):
        from mmengine.config import Config
        if not classifier_config or not osp.isfile(classifier_config):
            raise FileNotFoundError(f'{classifier_config}: classifier config not found')
        self.classifier_config = osp.abspath(classifier_config)
        self.classifier_checkpoint = classifier_checkpoint
        self.cls_cfg = Config.fromfile(classifier_config)
        overrides = dict(label_generation or {})
        if method is not None:
            overrides['method'] = method
        self.label_generation = label_generation_settings(self.cls_cfg, **overrides)
        self.refiner = refiner_settings(refiner)
        self.irn_cfg = None
        if self.refiner['type'] == 'irn':
            if not osp.isfile(self.refiner['config']):
                raise FileNotFoundError(f"{self.refiner['config']}: IRNet config (refiner.config) not found")
            from .sem_seg_labels import random_walk_settings
            self.irn_cfg = Config.fromfile(self.refiner['config'])
            walk = {k: self.refiner[k] for k in self.refiner if k not in ('type', 'config', 'checkpoint')}
            self.refiner.update(random_walk_settings(self.irn_cfg, **walk))
        self.maps_dir = maps_dir
        self.label_dir = label_dir
        self.regenerate = bool(regenerate)
        self.device = device
        self.show_progress = show_progress

    # -- what the labels depend on ---------------------------------------------------------------
    def _normalisation(self, cfg):
        preprocessor = cfg.model.get('data_preprocessor') or {}
        if 'mean' not in preprocessor or 'std' not in preprocessor:
            raise PseudoLabelError('the model config has no data_preprocessor mean/std')
        return list(preprocessor['mean']), list(preprocessor['std'])

    def class_map_settings(self, classifier: dict) -> dict:
        settings = {k: v for k, v in self.label_generation.items() if k not in _NON_RESULT_KEYS}
        if settings['method'] == 'cam':
            settings = {k: v for k, v in settings.items() if k not in _ADVCAM_ONLY_KEYS}
        mean, std = self._normalisation(self.cls_cfg)
        return _jsonable(dict(classifier_sha256=classifier['sha256'], **settings, mean=mean, std=std))

    def refiner_manifest_settings(self, irnet: Optional[dict]) -> dict:
        settings = {k: v for k, v in self.refiner.items() if k not in ('config', 'checkpoint')}
        if irnet is not None:
            mean, std = self._normalisation(self.irn_cfg)
            settings.update(irnet_sha256=irnet['sha256'], mean=mean, std=std)
        return _jsonable(settings)

    def _identities(self):
        classifier = file_identity(self.classifier_checkpoint)
        irnet = file_identity(self.refiner['checkpoint']) if self.refiner['type'] == 'irn' else None
        return classifier, irnet

    # -- planning (rank 0) -------------------------------------------------------------------------
    def _plan(self, targets, maps_dir):
        label_dir = targets['label_dir']
        classifier, irnet = self._identities()
        expected = dict(class_maps=self.class_map_settings(classifier),
                        refiner=self.refiner_manifest_settings(irnet))
        manifest_path = osp.join(label_dir, MANIFEST_NAME)
        manifest = read_manifest(manifest_path)
        clear_labels = False
        if manifest is None:
            strays = glob.glob(osp.join(label_dir, '*.png'))
            if strays:
                raise PseudoLabelError(
                    f'{label_dir} holds {len(strays)} PNG files but no {MANIFEST_NAME}: they were not made by '
                    'the pseudo-label hook (is the training mask_dir pointing at ground truth?). They are '
                    'never deleted automatically: choose an empty folder or remove them yourself.')
        else:
            differences = settings_differences(manifest['settings'], expected)
            if differences:
                if not self.regenerate:
                    raise PseudoLabelError(
                        f'{manifest_path}: the pseudo labels in {label_dir} were made with other settings '
                        f'(recorded -> configured):\n  ' + '\n  '.join(differences) +
                        '\nRefusing to mix or silently remake them. Pass regenerate=True to the hook '
                        '(--cfg-options custom_hooks.<i>.regenerate=True) to replace them, or point the '
                        'training dataset\'s mask_dir at another folder.')
                clear_labels = True
        missing = [i for i, p in zip(targets['ids'], targets['label_paths'])
                   if clear_labels or not osp.isfile(p)]
        plan = dict(action='reuse' if not missing else 'generate', todo=missing, clear_labels=clear_labels,
                    clear_maps=False, adopt_maps=0, expected=expected, classifier=classifier, irnet=irnet,
                    splits={} if clear_labels or manifest is None else dict(manifest.get('splits', {})))
        if not missing:
            known = all(x is None or x['sha256'] is not None for x in (classifier, irnet))
            plan['mark_complete'] = known and manifest is not None and manifest.get('status') != 'complete'
            if classifier['sha256'] is None:
                plan['warning'] = (f'classifier checkpoint {classifier["path"]} not found; the complete '
                                   f'labels in {label_dir} are reused as their manifest describes them')
            return plan
        for what, identity in (('classifier', classifier), ('IRNet', irnet)):
            if identity is not None and identity['sha256'] is None:
                raise PseudoLabelError(f'{identity["path"]}: {what} checkpoint not found; it is needed to make '
                                       f'{len(missing)} missing pseudo labels in {label_dir}')
        maps_manifest_path = osp.join(maps_dir, MAPS_MANIFEST_NAME)
        maps_manifest = read_manifest(maps_manifest_path)
        if maps_manifest is not None:
            differences = settings_differences(maps_manifest['settings'], expected['class_maps'])
            if differences:
                if not self.regenerate:
                    raise PseudoLabelError(
                        f'{maps_manifest_path}: the class maps in {maps_dir} were made with other settings '
                        f'(recorded -> configured):\n  ' + '\n  '.join(differences) +
                        '\nPass regenerate=True to the hook to replace them, or set another maps_dir.')
                plan['clear_maps'] = True
        else:
            plan['adopt_maps'] = len(glob.glob(osp.join(maps_dir, '*.npy')))
        return plan

    def _decide(self, targets, maps_dir, rank):
        plan = [None]
        if rank == 0:
            try:
                plan[0] = self._plan(targets, maps_dir)
            except Exception as error:  # noqa: BLE001 - every rank must learn of it, not wait forever
                message = str(error) if isinstance(error, PseudoLabelError) else f'{type(error).__name__}: {error}'
                plan[0] = dict(action='error', message=message)
        broadcast_object_list(plan, src=0)
        plan = plan[0]
        if plan['action'] == 'error':
            raise PseudoLabelError(plan['message'])
        return plan

    # -- the work --------------------------------------------------------------------------------------
    def _manifest(self, plan, targets, maps_dir, status):
        return dict(
            format=MANIFEST_FORMAT, made_by='advcam_mm AdvCAMPseudoLabelHook', status=status,
            settings=plan['expected'],
            sources=dict(classifier_config=self.classifier_config, classifier_checkpoint=plan['classifier'],
                         irn_config=osp.abspath(self.refiner['config']) if self.refiner['type'] == 'irn' else None,
                         irn_checkpoint=plan['irnet'], maps_dir=osp.abspath(maps_dir)),
            splits={**plan.get('splits', {}), osp.abspath(str(targets['ann_file'])): len(targets['ids'])},
            updated=datetime.datetime.now().isoformat(timespec='seconds'))

    def _prepare_folders(self, plan, targets, maps_dir):
        label_dir = targets['label_dir']
        os.makedirs(label_dir, exist_ok=True)
        os.makedirs(maps_dir, exist_ok=True)
        if plan['clear_labels']:
            removed = _remove_files(label_dir, ('*.png', '*.png.*.tmp', MANIFEST_NAME))
            print_log(f'pseudo labels: regenerate=True, removed {removed} files made with other settings '
                      f'from {label_dir}', logger='current')
        if plan['clear_maps']:
            removed = _remove_files(maps_dir, ('*.npy', '*.npy.*.tmp', MAPS_MANIFEST_NAME))
            print_log(f'pseudo labels: regenerate=True, removed {removed} class-map files made with other '
                      f'settings from {maps_dir}', logger='current')
        if plan['adopt_maps']:
            print_log(f'pseudo labels: adopting {plan["adopt_maps"]} class-map files found in {maps_dir} '
                      f'without a manifest (e.g. from tools/make_cams.py); they are assumed to be '
                      f'{self.label_generation["method"]} maps of {self.classifier_checkpoint} with the '
                      'configured settings', logger='current', level=30)
        maps_manifest = dict(format=MANIFEST_FORMAT, made_by='advcam_mm AdvCAMPseudoLabelHook',
                             settings=plan['expected']['class_maps'],
                             sources=dict(classifier_config=self.classifier_config,
                                          classifier_checkpoint=plan['classifier']),
                             adopted_files=plan['adopt_maps'])
        if not osp.isfile(osp.join(maps_dir, MAPS_MANIFEST_NAME)):
            write_manifest(osp.join(maps_dir, MAPS_MANIFEST_NAME), maps_manifest)
        write_manifest(osp.join(label_dir, MANIFEST_NAME), self._manifest(plan, targets, maps_dir, 'incomplete'))

    def _classification_dataset(self, targets):
        from mmengine.registry import init_default_scope
        from mmseg.registry import DATASETS
        if not targets['ann_file'] or not targets['data_root']:
            raise PseudoLabelError('the training dataset needs data_root and ann_file (a VOC split list) '
                                   'so that the image-level labels of its images can be read')
        init_default_scope(self.cls_cfg.get('default_scope', 'mmseg'))
        dataset_cfg = copy.deepcopy(self.cls_cfg.train_dataloader.dataset)
        dataset_cfg.update(data_root=osp.abspath(targets['data_root']), ann_file=osp.abspath(targets['ann_file']),
                           pipeline=[])
        dataset = DATASETS.build(dataset_cfg)
        labels = np.asarray(dataset.get_data_info(0)['gt_class_labels'])
        if targets['num_classes'] and labels.shape[0] != targets['num_classes'] - 1:
            raise PseudoLabelError(f'the classifier config labels {labels.shape[0]} foreground classes but the '
                                   f'training dataset has {targets["num_classes"]} classes with background')
        return dataset

    def _device(self):
        if self.device is not None:
            return self.device
        return f'cuda:{torch.cuda.current_device()}' if torch.cuda.is_available() else 'cpu'

    def _make_maps(self, todo, targets, maps_dir, rank, world_size):
        need = [i for i in todo if not osp.isfile(cam_file_path(maps_dir, i))]
        if not need:
            return 0
        dataset = _InfoSubset(self._classification_dataset(targets), need)
        if len(dataset) != len(need):
            raise PseudoLabelError(f'{len(need) - len(dataset)} training images are missing from the '
                                   f'classification dataset of split {targets["ann_file"]}')
        device = self._device()
        model = build_cam_model(self.cls_cfg, self.classifier_checkpoint, device)
        mean, std = self._normalisation(self.cls_cfg)
        result = generate_class_maps(model, dataset, maps_dir, self.label_generation, mean, std, device=device,
                                     rank=rank, world_size=world_size, show_progress=self.show_progress)
        del model
        if str(device).startswith('cuda'):
            torch.cuda.empty_cache()
        return result['written']

    def _refine_seeds(self, todo, targets, maps_dir, rank, world_size):
        image_of = dict(zip(targets['ids'], targets['image_paths']))
        mine = todo[rank::world_size]
        label_dir = targets['label_dir']
        remove_stale_temp_files(label_dir, [label_png_path(label_dir, i) for i in mine])
        progress = RankZeroProgress(len(mine), rank, enabled=self.show_progress,
                                    title=f"{self.refiner['type']} seeds")
        written = 0
        for image_id in mine:
            path = label_png_path(label_dir, image_id)
            if osp.exists(path):
                progress.update(skipped=True)
                continue
            maps = load_cam_file(cam_file_path(maps_dir, image_id))
            if self.refiner['type'] == 'crf':
                image = read_rgb(image_of[image_id])
                if image.shape[:2] != maps['high_res'].shape[1:]:
                    raise PseudoLabelError(f'{image_of[image_id]}: image is {image.shape[:2]} but its class maps '
                                           f'are {maps["high_res"].shape[1:]}')
                label = seed_with_crf(image, maps['high_res'], maps['keys'], self.refiner['bg_threshold'],
                                      t=self.refiner['t'], gt_prob=self.refiner['gt_prob'])
            else:
                label = seeds_from_maps(maps['high_res'], maps['keys'], self.refiner['bg_threshold'])
            save_label_png(path, label)
            written += 1
            progress.update()
        progress.close()
        if world_size > 1:
            barrier()
        return written

    def _refine_random_walk(self, todo, targets, maps_dir, rank, world_size):
        from .sem_seg_labels import build_irnet, make_sem_seg_labels
        image_dirs = {osp.dirname(p) for p in targets['image_paths']}
        image_dir = image_dirs.pop()
        if image_dirs or any(p != osp.join(image_dir, f'{i}.jpg')
                             for i, p in zip(targets['ids'], targets['image_paths'])):
            raise PseudoLabelError("refiner 'irn' needs the training images as <one folder>/<id>.jpg")
        device = self._device()
        model = build_irnet(self.irn_cfg, self.refiner['checkpoint'], device)
        mean, std = self._normalisation(self.irn_cfg)
        walk = {k: self.refiner[k] for k in ('beta', 'exp_times', 'sem_seg_bg_thres', 'radius', 'cam_power')}
        with torch.no_grad():
            result = make_sem_seg_labels(model, todo, image_dir, maps_dir, targets['label_dir'], walk, mean, std,
                                         device=device, rank=rank, world_size=world_size,
                                         show_progress=self.show_progress)
        del model
        if str(device).startswith('cuda'):
            torch.cuda.empty_cache()
        return result['written']

    def run(self, dataset) -> dict:
        """Make whatever labels ``dataset`` reads are missing (all ranks call this); return a summary.

        Summary: ``action`` (``'reused'`` or ``'generated'``), ``label_dir``,
        ``maps_dir``, ``num_images``, ``num_generated`` (all ranks together),
        ``seconds``.
        """
        start = time.perf_counter()
        rank, world_size = get_dist_info()
        targets = segmentation_targets(dataset, self.label_dir)
        label_dir = targets['label_dir']
        maps_dir = osp.abspath(self.maps_dir) if self.maps_dir else label_dir.rstrip(os.sep) + '_class_maps'
        plan = self._decide(targets, maps_dir, rank)
        summary = dict(label_dir=label_dir, maps_dir=maps_dir, num_images=len(targets['ids']))
        if plan['action'] == 'reuse':
            if rank == 0:
                if plan.get('mark_complete'):
                    write_manifest(osp.join(label_dir, MANIFEST_NAME),
                                   self._manifest(plan, targets, maps_dir, 'complete'))
                if plan.get('warning'):
                    print_log(f'pseudo labels: {plan["warning"]}', logger='current', level=30)
                print_log(f'pseudo labels: all {len(targets["ids"])} labels in {label_dir} match the configured '
                          f'settings; reusing them', logger='current')
            return dict(summary, action='reused', num_generated=0, seconds=time.perf_counter() - start)
        todo = plan['todo']
        if rank == 0:
            print_log(f"pseudo labels: making {len(todo)} of {len(targets['ids'])} labels in {label_dir} "
                      f"({self.label_generation['method']} maps in {maps_dir}, refiner "
                      f"'{self.refiner['type']}', {world_size} process(es))", logger='current')
            self._prepare_folders(plan, targets, maps_dir)
        if world_size > 1:
            barrier()
        self._make_maps(todo, targets, maps_dir, rank, world_size)
        if self.refiner['type'] == 'irn':
            self._refine_random_walk(todo, targets, maps_dir, rank, world_size)
        else:
            self._refine_seeds(todo, targets, maps_dir, rank, world_size)
        if rank == 0:
            missing = [p for p in targets['label_paths'] if not osp.isfile(p)]
            if missing:
                raise PseudoLabelError(f'{missing[0]}: pseudo label still missing after generation '
                                       f'({len(missing)} in all)')
            write_manifest(osp.join(label_dir, MANIFEST_NAME), self._manifest(plan, targets, maps_dir, 'complete'))
            print_log(f'pseudo labels: {len(todo)} labels written to {label_dir} in '
                      f'{time.perf_counter() - start:.1f}s', logger='current')
        if world_size > 1:
            barrier()
        return dict(summary, action='generated', num_generated=len(todo), seconds=time.perf_counter() - start)


def _remove_files(folder, patterns):
    removed = 0
    for pattern in patterns:
        for path in glob.glob(osp.join(folder, pattern)):
            os.remove(path)
            removed += 1
    return removed
