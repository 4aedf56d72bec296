"""The AdvCAM recipe as one ordered list of stages (``tools/pipeline.py``, ``make demo``).

classifier -> class maps (CAM and/or AdvCAM) -> seed evaluation (+CRF) -> IR labels -> IRNet ->
pseudo masks -> mask evaluation -> segmentor (DeepLab-v2) -> tests (single scale; MS + flip + CRF),
and optionally CCT on the pixel-labelled split plus the AdvCAM masks, the Fig. 6 analysis and panels.

:class:`Recipe` turns a set of configs into the steps (:class:`~advcam_mm.stages.scheduler.Step`:
one stage module each, the command line of its tool) and reads their results into the
paper's table; :mod:`.scheduler` runs them, skipping what is complete, in dependency order,
concurrently where inputs are ready (the CAM and AdvCAM chains are independent).
"""
import argparse
import json
import os.path as osp
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

from ..fileio.atomic import atomic_write
from .output_folder import read_metrics
from .scheduler import Step, describe, run_steps
from .training import checkpoint_of

#: How each segmentor is tested: name -> (multi-scale + flip, dense CRF).
TEST_PROTOCOLS = {'ss': (False, False), 'ms_flip_crf': (True, True)}
METHODS = ('cam', 'advcam')


def data_root_options(config: str, data_root: Optional[str]) -> List[str]:
    """``--cfg-options`` that point every dataset of ``config``'s dataloaders at ``data_root``."""
    if not data_root:
        return []
    from .runner import load_config
    cfg = load_config(config)
    options = []

    def walk(value, prefix):
        if isinstance(value, dict):
            if 'data_root' in value:
                options.append(f'{prefix}.data_root={data_root}')
            for key, item in value.items():
                if isinstance(item, dict):
                    walk(item, f'{prefix}.{key}')
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(loader):
            walk(cfg[loader].get('dataset', {}), f'{loader}.dataset')
    return options


@dataclass
class Recipe:
    """The steps of the AdvCAM recipe for a set of configs, and the table of their results.

    Args:
        work_dir: every output goes below it.
        classifier_config, irn_config, segmentor_config: the configs of the chain.
        cct_config: a CCT (semi-supervised) config, trained on the evaluation split's ground
            truth plus the AdvCAM pseudo masks (``None``: no CCT).
        methods: the chains to run, ``'cam'`` and/or ``'advcam'`` (identical settings otherwise).
        data_root: the dataset for every config (``None``: the configs' own).
        dataset_step: argv of ``tools/make_embedded_dataset.py`` to make the data first (or ``None``).
        label_split: the split the maps, IR labels and pseudo masks cover and the segmentors train on.
        backbones_from_classifier: IRNet's and the segmentors' backbones start from the trained
            classifier (the embedded setup: no ImageNet weights exist for its tiny ResNet).
        test_protocols: names of :data:`TEST_PROTOCOLS` each segmentor is tested with.
        analysis_images: images of the Fig. 6 analysis (0: none); ``analysis_mask_coefs`` its lambdas.
        panels: number of images of the pictures that follow the chain (the first of the evaluation
            split; 0: no pictures); ``panel_ids`` names them instead.
        options: extra ``--cfg-options`` per config role (``classifier``, ``irn``, ``segmentor``, ``cct``).
        num_procs: processes per distributable step (GPUs; ``torch.distributed.run``).
    """
    work_dir: str
    classifier_config: str
    irn_config: str
    segmentor_config: str
    cct_config: Optional[str] = None
    methods: Sequence[str] = ('advcam',)
    data_root: Optional[str] = None
    dataset_step: Optional[List[str]] = None
    label_split: str = 'train_aug'
    backbones_from_classifier: bool = False
    test_protocols: Sequence[str] = ('ss', 'ms_flip_crf')
    analysis_images: int = 0
    analysis_mask_coefs: str = '0,7'
    panels: int = 0
    panel_ids: Sequence[str] = ()
    options: Dict[str, List[str]] = field(default_factory=dict)
    num_procs: int = 1

    def __post_init__(self):
        unknown = set(self.methods) - set(METHODS)
        if unknown or not self.methods:
            raise ValueError(f'methods must be a non-empty subset of {METHODS}, got {self.methods}')
        unknown = set(self.test_protocols) - set(TEST_PROTOCOLS)
        if unknown:
            raise ValueError(f'unknown test protocols {sorted(unknown)}; known: {sorted(TEST_PROTOCOLS)}')
        if self.cct_config and 'advcam' not in self.methods:
            raise ValueError('CCT trains on the AdvCAM pseudo masks: methods must include advcam')
        self.work_dir = osp.abspath(self.work_dir)

    # -- paths -----------------------------------------------------------------------------------------
    def path(self, *parts) -> str:
        return osp.join(self.work_dir, *parts)

    def chain_path(self, method, *parts) -> str:
        return self.path(method, *parts)

    # -- per-config options ------------------------------------------------------------------------------
    def _options(self, role: str, config: str, extra: Sequence[str] = ()) -> List[str]:
        return [*data_root_options(config, self.data_root), *extra, *self.options.get(role, [])]

    def _backbone_init(self) -> List[str]:
        if not self.backbones_from_classifier:
            return []
        return [f'model.backbone.init_cfg.checkpoint={checkpoint_of(self.path("classifier"))}']

    @staticmethod
    def _split_options(config: str, split: str, loader: str = 'train_dataloader') -> List[str]:
        """``--cfg-options`` that select ``split`` for ``config``'s ``loader`` dataset."""
        from .datasets import split_settings
        from .runner import load_config
        settings = split_settings(load_config(config)[loader].dataset, split)
        return [f'{loader}.dataset.{key}={value}' for key, value in settings.items()]

    def irn_options(self, method: str) -> List[str]:
        return self._options('irn', self.irn_config, [
            *self._split_options(self.irn_config, self.label_split),
            f'train_dataloader.dataset.mask_dir={self.chain_path(method, "ir_labels")}', *self._backbone_init()])

    def segmentor_options(self, method: str) -> List[str]:
        return self._options('segmentor', self.segmentor_config, [
            *self._split_options(self.segmentor_config, self.label_split),
            f'train_dataloader.dataset.mask_dir={self.chain_path(method, "pseudo_masks")}',
            f'custom_hooks.0.maps_dir={self.chain_path(method, "maps")}',
            f'custom_hooks.0.refiner.config={osp.abspath(self.irn_config)}',
            f'custom_hooks.0.refiner.checkpoint={checkpoint_of(self.chain_path(method, "irnet"))}',
            *self._backbone_init()])

    def cct_options(self) -> List[str]:
        return self._options('cct', self.cct_config, [
            f'train_dataloader.dataset.weak.mask_dir={self.chain_path("advcam", "pseudo_masks")}',
            *self._backbone_init()])

    # -- the steps ---------------------------------------------------------------------------------------
    def _training(self, name, config, work_dir, options: Callable[[], List[str]], after) -> Step:
        return Step(name, 'advcam_mm.stages.training', lambda: [
            config, '--work-dir', work_dir, '--num-procs', str(self.num_procs), '--cfg-options', *options()],
            after, True)

    def _tests(self, prefix, config, work_dir, options: Callable[[], List[str]], after) -> List[Step]:
        steps = []
        for protocol in self.test_protocols:
            tta, crf = TEST_PROTOCOLS[protocol]
            steps.append(Step(
                f'{prefix} test {protocol}', 'advcam_mm.stages.testing',
                lambda tta=tta, crf=crf, protocol=protocol: [
                    config, checkpoint_of(work_dir), '--work-dir', osp.join(work_dir, f'test_{protocol}'),
                    *(['--tta'] if tta else []), '--cfg-options', *options(), f'model.test_cfg.crf.enabled={crf}'],
                (after,)))
        return steps

    def steps(self) -> List[Step]:
        steps = []
        first = ()
        if self.dataset_step:
            steps.append(Step('dataset', 'advcam_mm.stages.embedded_data', lambda: list(self.dataset_step)))
            first = ('dataset',)
        classifier_options = lambda: self._options('classifier', self.classifier_config)  # noqa: E731
        steps.append(self._training('classifier', self.classifier_config, self.path('classifier'),
                                    classifier_options, first))
        for method in self.methods:
            steps += self.chain_steps(method, classifier_options)
        if self.cct_config:
            steps.append(self._training('CCT', self.cct_config, self.path('cct'), self.cct_options,
                                        ('advcam pseudo masks',)))
            steps += self._tests('CCT', self.cct_config, self.path('cct'), self.cct_options, 'CCT')
        if self.analysis_images:
            steps.append(Step('Fig. 6 analysis', 'advcam_mm.stages.advcam_analysis', lambda: [
                self.classifier_config, checkpoint_of(self.path('classifier')), '--out-dir', self.path('analysis'),
                '--num-images', str(self.analysis_images), '--mask-coefs', self.analysis_mask_coefs,
                '--cfg-options', *classifier_options()], ('classifier',), True))
        if self.panels or self.panel_ids:
            steps += self.panel_steps(classifier_options)
        return steps

    def chain_steps(self, method: str, classifier_options) -> List[Step]:
        maps = self.chain_path(method, 'maps')
        name = lambda what: f'{method} {what}'  # noqa: E731
        steps = [
            Step(name('maps'), 'advcam_mm.stages.class_maps', lambda: [
                self.classifier_config, checkpoint_of(self.path('classifier')), '--out-dir', maps, '--method', method,
                '--split', self.label_split, '--cfg-options', *classifier_options()], ('classifier',), True),
            Step(name('seeds'), 'advcam_mm.stages.seed_evaluation', lambda: [
                self.classifier_config, '--cam-dir', maps, '--crf', '--out-dir', self.chain_path(method, 'seeds'),
                '--num-workers', '2', '--cfg-options', *classifier_options()], (name('maps'),)),
            Step(name('IR labels'), 'advcam_mm.stages.ir_labels', lambda: [
                self.irn_config, '--cam-dir', maps, '--out-dir', self.chain_path(method, 'ir_labels'),
                '--split', self.label_split, '--num-workers', '2', '--cfg-options', *self.irn_options(method)],
                (name('maps'),)),
            self._training(name('IRNet'), self.irn_config, self.chain_path(method, 'irnet'),
                           lambda: self.irn_options(method), (name('IR labels'),)),
            Step(name('pseudo masks'), 'advcam_mm.stages.pseudo_masks', lambda: [
                self.segmentor_config, '--cfg-options', *self.segmentor_options(method)], (name('IRNet'),), True),
            Step(name('mask evaluation'), 'advcam_mm.stages.mask_evaluation', lambda: [
                self.segmentor_config, '--mask-dir', self.chain_path(method, 'pseudo_masks'), '--out-dir',
                self.chain_path(method, 'masks_eval'), '--cfg-options',
                *self._options('segmentor', self.segmentor_config)], (name('pseudo masks'),)),
            self._training(name('DeepLab-v2'), self.segmentor_config, self.chain_path(method, 'segmentor'),
                           lambda: self.segmentor_options(method), (name('pseudo masks'),)),
        ]
        steps += self._tests(name('DeepLab-v2'), self.segmentor_config, self.chain_path(method, 'segmentor'),
                             lambda: self.segmentor_options(method), name('DeepLab-v2'))
        return steps

    def panel_steps(self, classifier_options) -> List[Step]:
        """The segmentors' predictions on the evaluation split, then the panels that follow images through
        the chain: image, ground truth, IRN masks, DeepLab-v2 predictions; CAM and AdvCAM maps, seeds (+CRF)."""
        steps, labels, after = [], [], []
        for method in self.methods:
            work_dir = self.chain_path(method, 'segmentor')
            options = lambda m=method: self.segmentor_options(m)  # noqa: E731
            steps.append(Step(f'{method} DeepLab-v2 predictions', 'advcam_mm.stages.testing', lambda w=work_dir, o=options: [
                self.segmentor_config, checkpoint_of(w), '--work-dir', osp.join(w, 'predictions'), '--out',
                osp.join(w, 'predictions', 'labels'), '--cfg-options', *o(),
                *self._split_options(self.segmentor_config, self._evaluation_split(), 'test_dataloader')],
                (f'{method} DeepLab-v2',)))
            labels += [f'{self._title(method)} IRN mask={self.chain_path(method, "pseudo_masks")}',
                       f'DeepLab-v2 ({self._title(method)})={osp.join(work_dir, "predictions", "labels")}']
            after += [f'{method} seeds', f'{method} pseudo masks', f'{method} DeepLab-v2 predictions']
        maps = [f'{self._title(m)}={self.chain_path(m, "maps")}' for m in self.methods]
        images = ['--ids', *self.panel_ids] if self.panel_ids else ['--num', str(self.panels)]
        steps.append(Step('panels', 'advcam_mm.stages.panels', lambda: [
            self.classifier_config, '--maps', *maps, '--seed-threshold',
            *[self.chain_path(m, 'seeds') for m in self.methods], '--labels', *labels, *images,
            '--out-dir', self.path('panels'), '--cfg-options', *classifier_options()], tuple(after)))
        return steps

    @staticmethod
    def _title(method: str) -> str:
        return 'CAM' if method == 'cam' else 'AdvCAM'

    def _evaluation_split(self) -> str:
        from .runner import load_config
        return load_config(self.classifier_config).label_evaluation['split']

    # -- the results -------------------------------------------------------------------------------------
    def results(self) -> dict:
        """mIoU (%) of every finished evaluation: ``{method: {seed, seed_crf, seed_threshold, mask,
        deeplab: {protocol: ...}}, 'cct': {protocol: ...}}``; unfinished ones are None."""
        def percent(value):
            return None if value is None else 100 * value

        def tests(work_dir):
            out = {}
            for protocol in self.test_protocols:
                result = read_metrics(osp.join(work_dir, f'test_{protocol}'))
                out[protocol] = None if result is None else result.get('mIoU')
            return out
        results = {}
        for method in self.methods:
            seeds = read_metrics(self.chain_path(method, 'seeds')) or {}
            masks = read_metrics(self.chain_path(method, 'masks_eval')) or {}
            results[method] = dict(seed=percent(seeds.get('miou')), seed_crf=percent(seeds.get('crf_miou')),
                                   seed_threshold=seeds.get('best_threshold'), mask=percent(masks.get('miou')),
                                   deeplab=tests(self.chain_path(method, 'segmentor')))
        if self.cct_config:
            results['cct'] = tests(self.path('cct'))
        return results

    def write_summary(self, path: Optional[str] = None) -> str:
        path = path or self.path('summary.json')
        with atomic_write(path, 'w') as f:
            json.dump(self.results(), f, indent=2)
        return path

    def summary_table(self, paper: Optional[dict] = None) -> str:
        """One row per column of the paper's Tables 1 and 4 (and CCT), one column per chain, and
        ``paper``'s figures (``{key: (CAM, AdvCAM)}`` as :meth:`results` names them) beside them."""
        results, paper = self.results(), paper or {}

        def cell(value, width=7):
            return f'{value:{width}.2f}' if value is not None else f'{"-":>{width}}'

        def protocol_name(protocol):
            return {'ss': 'single scale', 'ms_flip_crf': 'MS+flip+CRF'}[protocol]
        rows = [('seed (best threshold)', 'train', ('seed',)), ('seed + CRF', 'train', ('seed_crf',)),
                ('pseudo mask (IRN)', 'train', ('mask',))]
        rows += [(f'DeepLab-v2 {protocol_name(p)}', 'val', ('deeplab', p)) for p in self.test_protocols]
        width = 30
        heads = [self._title(m) for m in self.methods]
        header = f'{"":<{width}} {"split":<5}' + ''.join(f' {h:>7}' for h in heads) + \
            (f' {"paper (VOC)":>16}' if paper else '')
        lines = [header, '-' * len(header)]

        def lookup(tree, path):
            for key in path:
                tree = tree.get(key) if isinstance(tree, dict) else None
            return tree
        for name, split, path in rows:
            line = f'{name:<{width}} {split:<5}' + ''.join(f' {cell(lookup(results[m], path))}' for m in self.methods)
            reference = lookup(paper, path)
            if paper:
                line += f' {"-" if reference is None else f"{reference[0]:.1f} -> {reference[1]:.1f}":>16}'
            lines.append(line)
        for protocol in (self.test_protocols if 'cct' in results else ()):
            name = f'CCT (semi) {protocol_name(protocol)}'
            line = f'{name:<{width}} {"val":<5}' + ' ' * 8 * (len(self.methods) - 1) + \
                f' {cell(results["cct"][protocol])}'
            reference = lookup(paper, ('cct', protocol))
            if paper:
                line += f' {"-" if reference is None else f"{reference[0]:.1f} -> {reference[1]:.1f}":>16}'
            lines.append(line)
        return '\n'.join(lines)


#: Config sets of the two setups (``tools/pipeline.py --preset``).
PRESETS = {
    'embedded': dict(
        classifier_config='configs/advcam/cam_r18-w16_30ep_embedded.py',
        irn_config='configs/advcam/irnet_r18-w16_100ep_embedded.py',
        segmentor_config='configs/advcam/deeplabv2_r18-w16_600it_embedded.py',
        cct_config='configs/advcam/cct_r18-w16_600it_embedded-semi.py',
        backbones_from_classifier=True),
    'voc': dict(
        classifier_config='configs/advcam/cam_r50_5ep_voc12aug.py',
        irn_config='configs/advcam/irnet_r50_3ep_voc12aug.py',
        segmentor_config='configs/advcam/deeplabv2_voc.py',
        cct_config='configs/advcam/cct_r50_80ep_voc12aug-semi.py',
        backbones_from_classifier=False),
    # MS COCO 2014 (docs/coco2014.md): convert it first (tools/convert_coco.py); no CCT (no pixel-labelled
    # subset in the weakly supervised setting).
    'coco': dict(
        classifier_config='configs/advcam/cam_r50_5ep_coco14.py',
        irn_config='configs/advcam/irnet_r50_3ep_coco14.py',
        segmentor_config='configs/advcam/deeplabv2_r101_100k_coco14.py',
        cct_config=None,
        label_split='train2014',
        backbones_from_classifier=False),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='The AdvCAM recipe, stage by stage, resumable')
    parser.add_argument('--preset', choices=sorted(PRESETS), default='embedded', help='the configs of a setup')
    parser.add_argument('--work-dir', help='output folder (default work_dirs/pipeline_<preset>)')
    parser.add_argument('--data-root', help="the dataset for every config (default: the configs' own)")
    parser.add_argument('--make-embedded-dataset', type=int, metavar='SEED',
                        help='first generate the embedded dataset with this seed into --data-root\'s VOCdevkit')
    parser.add_argument('--methods', nargs='+', choices=METHODS, default=['advcam'], help='the chains to run')
    parser.add_argument('--classifier-config')
    parser.add_argument('--irn-config')
    parser.add_argument('--segmentor-config', help='any segmentor config with an AdvCAMPseudoLabelHook')
    parser.add_argument('--cct-config', help="a CCT config (default: the preset's); 'none' for no CCT")
    parser.add_argument('--label-split', help="split labelled and trained on (default: the preset's, else train_aug)")
    parser.add_argument('--tests', nargs='+', choices=sorted(TEST_PROTOCOLS), default=['ss', 'ms_flip_crf'])
    parser.add_argument('--analysis-images', type=int, default=0, help='images of the Fig. 6 analysis (0: none)')
    parser.add_argument('--panels', type=int, default=0, help='pictures of the first N evaluation images (0: none)')
    parser.add_argument('--panel-ids', nargs='+', default=[], help='images of the pictures, by id')
    for role in ('classifier', 'irn', 'segmentor', 'cct'):
        parser.add_argument(f'--{role}-options', nargs='+', default=[], metavar='KEY=VALUE',
                            help=f'extra --cfg-options of the {role} config')
    parser.add_argument('--num-procs', type=int, default=1, help='processes (GPUs) per distributable stage')
    parser.add_argument('--jobs', type=int, default=1, help='stages run at once when their inputs are ready')
    parser.add_argument('--regenerate', nargs='+', default=[], metavar='STEP',
                        help='remake these steps even when made with other settings')
    parser.add_argument('--dry-run', action='store_true', help='print the steps and exit')
    return parser.parse_args(argv)


def recipe_from_args(args) -> Recipe:
    preset = dict(PRESETS[args.preset])
    preset_split = preset.pop('label_split', 'train_aug')
    for key in ('classifier_config', 'irn_config', 'segmentor_config', 'cct_config'):
        if getattr(args, key):
            preset[key] = None if getattr(args, key) == 'none' else getattr(args, key)
    if preset.get('cct_config') and 'advcam' not in args.methods:
        preset['cct_config'] = None
    dataset_step = None
    if args.make_embedded_dataset is not None:
        if not args.data_root:
            raise SystemExit('--make-embedded-dataset needs --data-root (<out>/VOCdevkit/VOC2012)')
        out = osp.dirname(osp.dirname(osp.normpath(args.data_root)))
        dataset_step = ['--out', out, '--seed', str(args.make_embedded_dataset)]
    return Recipe(work_dir=args.work_dir or f'work_dirs/pipeline_{args.preset}', data_root=args.data_root,
                  dataset_step=dataset_step, methods=args.methods, label_split=args.label_split or preset_split,
                  test_protocols=args.tests, analysis_images=args.analysis_images, panel_ids=args.panel_ids, panels=args.panels,
                  options={role: getattr(args, f'{role}_options') for role in ('classifier', 'irn', 'segmentor', 'cct')},
                  num_procs=args.num_procs, **preset)


def main(argv=None):
    args = parse_args(argv)
    recipe = recipe_from_args(args)
    steps = recipe.steps()
    if args.dry_run:
        print(describe(steps))
        return
    run_steps(steps, jobs=args.jobs, num_procs=args.num_procs, log_dir=recipe.path('logs'), regenerate=args.regenerate)
    recipe.write_summary()
    print(f'\nAdvCAM pipeline ({args.preset}), mIoU %:')
    print(recipe.summary_table())


if __name__ == '__main__':
    main()
