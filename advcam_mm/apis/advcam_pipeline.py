"""The whole AdvCAM recipe as a list of resumable stages (``tools/pipeline.py``, ``make demo``).

classifier -> AdvCAM maps -> seed evaluation (+CRF) -> IR labels -> IRNet ->
pseudo masks -> mask evaluation -> segmentor (DeepLab-v2) -> test, each stage
one of the project's command lines (:class:`advcam_mm.apis.pipeline.Stage`),
skipped when its output exists. With ``num_procs > 1`` the training stages
run through ``tools/dist_train.sh`` and the per-image stages through
``torchrun`` (ranks split the images). :func:`print_summary` prints the
paper's columns: Seed, +CRF, Mask (train), segmentation (val).

The pseudo masks are made by the segmentor config's ``AdvCAMPseudoLabelHook``
(``tools/make_pseudo_labels.py``) from the AdvCAM maps of the maps stage and
the trained IRNet, into the folder the segmentor then trains on, so the
training stage finds them finished and reuses them.
"""
import argparse
import glob
import json
import os
import os.path as osp
import shlex
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from .pipeline import Stage, touch_when_done

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

#: Configs, data and class names of the two setups.
PRESETS = {
    'embedded': dict(
        data_root='data/embedded/VOCdevkit/VOC2012',
        classifier_config='configs/advcam/cls_tinyresnet_embedded.py',
        irn_config='configs/advcam/irn_tinyresnet_embedded.py',
        segmentor_config='configs/advcam/deeplabv2_tinyresnet_embedded.py',
        classes='embedded', make_embedded_dataset=True, backbones_from_classifier=True),
    'voc': dict(
        data_root='data/VOCdevkit/VOC2012',
        classifier_config='configs/advcam/cls_resnet50_voc.py',
        irn_config='configs/advcam/irn_resnet50_voc.py',
        segmentor_config='configs/advcam/deeplabv2_voc.py',
        classes='voc', make_embedded_dataset=False, backbones_from_classifier=False),
}


@dataclass
class AdvCAMPipeline:
    """What the stages need: folders, configs and per-stage ``--cfg-options``.

    Args:
        work_dir: every output goes below it.
        data_root: the ``VOC2012`` folder.
        classifier_config, irn_config, segmentor_config: the three configs.
        classes: ``'voc'`` or ``'embedded'`` (class names of the evaluation tools).
        num_procs: processes per stage (training: ``dist_train.sh``; maps, masks: ``torchrun``).
        make_embedded_dataset: first make the embedded dataset (``data/embedded``).
        backbones_from_classifier: initialise IRNet's and the segmentor's
            backbones from the trained classifier (the embedded setup, where
            no ImageNet weights exist for the tiny ResNet).
        label_split: split the maps, IR labels, pseudo masks and segmentor use (``train_aug``).
        eval_split: split the seeds and masks are scored on (``train``, as the paper).
        label_generation: overrides of the classifier config's ``label_generation``
            (e.g. ``{'steps': 8}``), given to ``make_cams`` and to the hook alike.
        classifier_options, irn_options, segmentor_options: extra ``key=value`` overrides.
        test_tta, test_crf: multi-scale + flip testing; dense CRF post-processing.
    """
    work_dir: str
    data_root: str
    classifier_config: str
    irn_config: str
    segmentor_config: str
    classes: str = 'voc'
    num_procs: int = 1
    make_embedded_dataset: bool = False
    backbones_from_classifier: bool = False
    label_split: str = 'train_aug'
    eval_split: str = 'train'
    label_generation: Dict[str, object] = field(default_factory=dict)
    classifier_options: List[str] = field(default_factory=list)
    irn_options: List[str] = field(default_factory=list)
    segmentor_options: List[str] = field(default_factory=list)
    test_tta: bool = True
    test_crf: bool = True

    @classmethod
    def from_preset(cls, preset: str, work_dir: str, **kwargs) -> 'AdvCAMPipeline':
        if preset not in PRESETS:
            raise ValueError(f'unknown preset {preset!r}; known: {sorted(PRESETS)}')
        settings = dict(PRESETS[preset])
        settings.update({k: v for k, v in kwargs.items() if v is not None})
        return cls(work_dir=work_dir, **settings)

    # -- paths ----------------------------------------------------------------------------------
    def path(self, *parts) -> str:
        return osp.abspath(osp.join(self.work_dir, *parts))

    @property
    def classifier_checkpoint(self) -> str:
        epochs = _merged_config(self.classifier_config, self.classifier_options).train_cfg.max_epochs
        return self.path('classifier', f'epoch_{epochs}.pth')

    @property
    def irn_checkpoint(self) -> str:
        epochs = _merged_config(self.irn_config, self._irn_options()).train_cfg.max_epochs
        return self.path('irn', f'epoch_{epochs}.pth')

    @property
    def segmentor_checkpoint(self) -> str:
        iters = _merged_config(self.segmentor_config, self._segmentor_options()).train_cfg.max_iters
        return self.path('segmentor', f'iter_{iters}.pth')

    @property
    def segmentation_json(self) -> str:
        """Test metrics of the segmentor checkpoint with the test settings (one file per combination)."""
        stem = osp.splitext(osp.basename(self.segmentor_checkpoint))[0]
        mode = ''.join(['_tta' if self.test_tta else '', '_crf' if self.test_crf else ''])
        return self.path(f'segmentation_{stem}{mode}.json')

    # -- per-stage options ----------------------------------------------------------------------
    def _data_root_options(self, loaders=('train', 'val', 'test')) -> List[str]:
        return [f'{loader}_dataloader.dataset.data_root={self.data_root}' for loader in loaders]

    def _irn_options(self) -> List[str]:
        options = [*self._data_root_options(('train',)),
                   f'train_dataloader.dataset.ann_file=ImageSets/Segmentation/{self.label_split}.txt',
                   f'train_dataloader.dataset.mask_dir={self.path("ir_labels")}']
        if self.backbones_from_classifier:
            options.append(f'model.backbone.init_cfg.checkpoint={self.classifier_checkpoint}')
        return options + list(self.irn_options)

    def _segmentor_options(self) -> List[str]:
        options = [*self._data_root_options(),
                   f'train_dataloader.dataset.ann_file=ImageSets/Segmentation/{self.label_split}.txt',
                   f'train_dataloader.dataset.mask_dir={self.path("pseudo_masks")}',
                   f'custom_hooks.0.classifier_checkpoint={self.classifier_checkpoint}',
                   f'custom_hooks.0.maps_dir={self.path("advcam_maps")}',
                   f'custom_hooks.0.refiner.checkpoint={self.irn_checkpoint}',
                   *[f'custom_hooks.0.label_generation.{k}={_option_value(v)}'
                     for k, v in self.label_generation.items()]]
        if self.backbones_from_classifier:
            options.append(f'model.backbone.init_cfg.checkpoint={self.classifier_checkpoint}')
        return options + list(self.segmentor_options)

    def _distributed(self, tool: str, args: List[str]) -> List[str]:
        if self.num_procs > 1:
            return ['python', '-m', 'torch.distributed.run', '--nproc_per_node', str(self.num_procs),
                    '--master_port', os.environ.get('PORT', '29500'), tool, *args, '--launcher', 'pytorch']
        return ['python', tool, *args]

    def _train(self, config: str, work_dir: str, options: List[str]) -> List[str]:
        if self.num_procs > 1:
            return ['bash', 'tools/dist_train.sh', config, str(self.num_procs), '--work-dir', work_dir,
                    '--cfg-options', *options]
        return ['python', 'tools/train.py', config, '--work-dir', work_dir, '--cfg-options', *options]

    def _env(self) -> dict:
        env = {'PYTHON': _python()}
        if self.num_procs > 1 and 'OMP_NUM_THREADS' not in os.environ:
            env['OMP_NUM_THREADS'] = str(max(1, (os.cpu_count() or 1) // self.num_procs))
        return env

    # -- the stages ----------------------------------------------------------------------------------
    def stages(self) -> List[Stage]:
        env = self._env()
        maps_dir, ir_dir, masks_dir = self.path('advcam_maps'), self.path('ir_labels'), self.path('pseudo_masks')
        stages = []
        if self.make_embedded_dataset:
            stages.append(Stage('dataset', ['python', 'tools/make_embedded_dataset.py', '--out', 'data/embedded'],
                                osp.join(self.data_root, 'embedded_manifest.json')))
        stages.append(Stage(
            'classifier', self._train(self.classifier_config, self.path('classifier'),
                                      [*self._data_root_options(), *self.classifier_options]),
            self.classifier_checkpoint, env=env))
        stages.append(Stage(
            'advcam maps', self._distributed('tools/make_cams.py', [
                self.classifier_config, self.classifier_checkpoint, '--out-dir', maps_dir, '--method', 'advcam',
                '--split', self.label_split, '--cfg-options', *self._data_root_options(('train',)),
                *[f'label_generation.{k}={_option_value(v)}' for k, v in self.label_generation.items()]]),
            maps_dir + '.done', env=env, after=touch_when_done(maps_dir + '.done')))
        stages.append(Stage(
            'seed evaluation', ['python', 'tools/eval_seeds.py', '--cam-dir', maps_dir, '--data-root', self.data_root,
                                '--split', self.eval_split, '--crf', '--classes', self.classes,
                                '--out-json', self.path('seeds.json')],
            self.path('seeds.json'), env=env))
        stages.append(Stage(
            'IR labels', ['python', 'tools/cams_to_ir_labels.py', '--config', self.irn_config, '--cam-dir', maps_dir,
                          '--data-root', self.data_root, '--split', self.label_split, '--out-dir', ir_dir],
            ir_dir + '.done', env=env, after=touch_when_done(ir_dir + '.done')))
        stages.append(Stage('IRNet', self._train(self.irn_config, self.path('irn'), self._irn_options()),
                            self.irn_checkpoint, env=env))
        stages.append(Stage(
            'pseudo masks', self._distributed('tools/make_pseudo_labels.py', [
                self.segmentor_config, '--cfg-options', *self._segmentor_options()]),
            masks_dir + '.done', env=env, after=touch_when_done(masks_dir + '.done')))
        stages.append(Stage(
            'mask evaluation', ['python', 'tools/eval_masks.py', '--mask-dir', masks_dir, '--data-root', self.data_root,
                                '--split', self.eval_split, '--classes', self.classes,
                                '--out-json', self.path('masks.json')],
            self.path('masks.json'), env=env))
        stages.append(Stage('segmentor', self._train(self.segmentor_config, self.path('segmentor'),
                                                     self._segmentor_options()),
                            self.segmentor_checkpoint, env=env))
        test_dir = self.path('segmentor_test')
        test_options = [*self._segmentor_options(), f'model.test_cfg.crf.enabled={self.test_crf}']
        stages.append(Stage(
            'test', ['python', 'tools/test.py', self.segmentor_config, self.segmentor_checkpoint,
                     '--work-dir', test_dir, *(['--tta'] if self.test_tta else []), '--cfg-options', *test_options],
            self.segmentation_json, env=env,
            after=lambda: collect_test_metrics(test_dir, self.segmentation_json,
                                                dict(tta=self.test_tta, crf=self.test_crf,
                                                     checkpoint=self.segmentor_checkpoint))))
        return stages

    # -- the summary ---------------------------------------------------------------------------------
    def results(self) -> dict:
        """The four mIoUs (percent) from the stages' JSON files; absent ones are None."""
        def read(name):
            path = self.path(name)
            if not osp.isfile(path):
                return None
            with open(path) as f:
                return json.load(f)
        seeds, masks = read('seeds.json'), read('masks.json')
        segmentation = read(osp.basename(self.segmentation_json))
        return dict(
            seed=None if seeds is None else 100 * seeds['miou'],
            seed_threshold=None if seeds is None else seeds['best_threshold'],
            seed_crf=None if seeds is None or seeds.get('crf_miou') is None else 100 * seeds['crf_miou'],
            mask=None if masks is None else 100 * masks['miou'],
            segmentation=None if segmentation is None else segmentation['mIoU'],
            segmentation_test=None if segmentation is None else segmentation.get('test'))

    def summary_table(self) -> str:
        r = self.results()

        def cell(value):
            return f'{value:7.2f}' if value is not None else f'{"-":>7}'
        test = r['segmentation_test'] or {}
        test_text = '+'.join(n for n, on in (('MS+flip', test.get('tta')), ('CRF', test.get('crf'))) if on)
        threshold = f' (bg {r["seed_threshold"]:.2f})' if r['seed_threshold'] is not None else ''
        rows = [(f'AdvCAM seed{threshold}', self.eval_split, r['seed']),
                ('AdvCAM seed + CRF', self.eval_split, r['seed_crf']),
                ('pseudo mask (IRN)', self.eval_split, r['mask']),
                (f'DeepLab-v2{" " + test_text if test_text else ""}', 'val', r['segmentation'])]
        width = max(len(name) for name, _, _ in rows)
        lines = [f'{"stage":<{width}}  {"split":<9} {"mIoU %":>7}', '-' * (width + 19)]
        lines += [f'{name:<{width}}  {split:<9} {cell(value)}' for name, split, value in rows]
        return '\n'.join(lines)


def _python():
    import sys
    return sys.executable


def _option_value(value) -> str:
    if isinstance(value, (list, tuple)):
        return '[' + ','.join(str(v) for v in value) + ']'
    return str(value)


def _merged_config(config, options):
    """``config`` with ``key=value`` options applied as ``--cfg-options`` would."""
    from mmengine.config import Config, DictAction
    cfg = Config.fromfile(osp.join(REPO_ROOT, config) if not osp.isabs(config) else config)
    if options:
        namespace = argparse.Namespace()
        DictAction(option_strings=[], dest='options')(None, namespace, list(options))
        cfg.merge_from_dict(namespace.options)
    return cfg


def collect_test_metrics(test_dir, out_path, test_settings):
    """Copy the newest test metrics JSON that mmengine wrote under ``test_dir`` to ``out_path``."""
    from ..fileio.atomic import atomic_write
    candidates = sorted(glob.glob(osp.join(test_dir, '*', '*.json')), key=osp.getmtime)
    candidates = [p for p in candidates if not osp.basename(p).startswith('scalars')]
    if not candidates:
        raise FileNotFoundError(f'{test_dir}: no test metrics JSON written by tools/test.py')
    with open(candidates[-1]) as f:
        metrics = json.load(f)
    metrics['test'] = test_settings
    with atomic_write(out_path, 'w') as f:
        json.dump(metrics, f, indent=2)


def describe(stages: List[Stage]) -> str:
    """The stages as the command lines they run (for ``--dry-run``)."""
    return '\n'.join(f'[{s.name}] {"(done) " if s.done() else ""}$ {shlex.join(s.command)}' for s in stages)


def parse_options(items: Optional[List[str]]) -> Dict[str, object]:
    """``['steps=8', 'scales=[1.0,0.5]']`` -> dict, with MMEngine's ``--cfg-options`` value parsing."""
    if not items:
        return {}
    from mmengine.config import DictAction
    namespace = argparse.Namespace()
    DictAction(option_strings=[], dest='options')(None, namespace, list(items))
    return dict(namespace.options)
