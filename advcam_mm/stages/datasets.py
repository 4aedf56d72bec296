"""Where a stage's images come from: the dataset of a config, for a split (the one way to list images).

Every per-image stage lists its images through a registered dataset built
from a config's dataset dict (``img_id``, ``img_path`` and, where the
dataset has them, ``gt_class_labels`` and ``seg_map_path``), so a dataset in
another layout (COCO, a user's own) needs only a dataset class, not a stage
change. A split name resolves through the dataset class's ``split_settings``
(VOC: ``ann_file=ImageSets/Segmentation/<split>.txt``; COCO: ``split=train2014``,
which also names the image folder); a path to a list file works too.
"""
import copy
import os.path as osp
from typing import Optional

from ..fileio.manifest import ManifestError, file_sha256, manifest_path, read_manifest

#: Files at a dataset's root that identify its content (written by the project's generators).
DATASET_MANIFESTS = ('embedded_manifest.json',)


def split_settings(dataset_cfg: dict, split: str) -> dict:
    """The entries of ``dataset_cfg`` that select ``split`` (``split_settings`` of its dataset class)."""
    from mmseg.registry import DATASETS
    dataset_class = DATASETS.get(dataset_cfg['type'])
    if not hasattr(dataset_class, 'split_settings'):
        if split.endswith('.txt') or osp.sep in split:
            return dict(ann_file=split)
        raise ValueError(f'{dataset_cfg["type"]} has no split_settings: give the split as a list file path')
    return dataset_class.split_settings(split)


def build_dataset(dataset_cfg: dict, split: Optional[str] = None, **overrides):
    """The dataset of ``dataset_cfg`` (no pipeline), for ``split`` when given, with ``overrides``."""
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS
    init_default_scope('mmseg')
    dataset_cfg = copy.deepcopy(dict(dataset_cfg))
    if split is not None:
        dataset_cfg.update(split_settings(dataset_cfg, split))
    dataset_cfg.update(pipeline=[], **overrides)
    return DATASETS.build(dataset_cfg)


def samples(dataset) -> list:
    """The data infos of ``dataset`` in order."""
    return [dataset.get_data_info(i) for i in range(len(dataset))]


def dataset_input(dataset) -> dict:
    """The dataset as a manifest input: its root and split (informative) and what identifies its content:
    the digest of the generator's manifest at its root, or, for a dataset with an ``identity_folder``
    (COCO: the split's converted masks), the digest of that folder's stage manifest; ``None`` otherwise."""
    data_root = getattr(dataset, 'data_root', None) or ''
    entry = dict(path=osp.abspath(data_root), split=str(getattr(dataset, 'ann_file', '')))
    identity_folder = getattr(dataset, 'identity_folder', None)
    if identity_folder:
        manifest = read_manifest(identity_folder)
        if manifest is not None and manifest['status'] != 'complete':
            raise ManifestError(f'{manifest_path(identity_folder)}: the {manifest["stage"]} stage that made this '
                                f'dataset has not finished; run it to the end first')
        return dict(entry, manifest=None if manifest is None else manifest['digest'])
    digest = None
    for name in DATASET_MANIFESTS:
        path = osp.join(data_root, name)
        if osp.isfile(path):
            digest = file_sha256(path)
            break
    return dict(entry, sha256=digest)


def evaluation_dataset(cfg, split: Optional[str] = None):
    """The pixel-labelled dataset seeds and masks are scored on: ``cfg.label_evaluation``
    (``split``, ``mask_dir``) on the data root and classes of the config's validation dataset."""
    evaluation = cfg.get('label_evaluation')
    if not evaluation:
        raise ValueError('the config has no label_evaluation = dict(split=..., mask_dir=...) (where the '
                         'pixel labels of the evaluation split are)')
    loader = cfg.get('val_dataloader') or cfg.get('test_dataloader')
    if not loader:
        raise ValueError('the config has no val_dataloader.dataset to take the data root and classes from')
    dataset_cfg = loader['dataset']
    return build_dataset(dataset_cfg, split or evaluation['split'], mask_dir=evaluation['mask_dir'])


def class_names(dataset) -> list:
    return list(dataset.metainfo['classes'])
