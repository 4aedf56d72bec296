"""The AdvCAM recipe as one ordered list of stages (``tools/pipeline.py``, ``make demo``).

classifier -> class maps (CAM and/or AdvCAM) -> seed evaluation (+CRF) -> IR labels -> IRNet ->
pseudo masks -> mask evaluation -> segmentor (DeepLab-v2) -> tests (single scale; MS + flip + CRF),
and optionally CCT on the pixel-labelled split plus the AdvCAM masks, the Fig. 6 analysis and panels.

Every step is one stage module of :mod:`advcam_mm.stages` run as a command
(``python -m advcam_mm.stages.<stage> ...``, under ``torch.distributed.run``
when several processes are asked for), exactly the command line of its
tool. Before a step runs, the pipeline asks the stage (in this process)
whether its output folder is complete with the same settings and inputs
(its manifest); then it is skipped. A step whose folder was made otherwise
stops the pipeline with the stage's list of differences (``--regenerate``
remakes it). Steps whose inputs are ready run concurrently up to ``jobs``
at a time (the CAM and AdvCAM chains are independent), each with its share
of the cores; their output then goes to ``<work_dir>/logs/<step>.log``.
"""
import argparse
import importlib
import json
import os
import os.path as osp
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from ..fileio.atomic import atomic_write
from .training import checkpoint_of

#: How each segmentor is tested: name -> (multi-scale + flip, dense CRF).
TEST_PROTOCOLS = {'ss': (False, False), 'ms_flip_crf': (True, True)}
METHODS = ('cam', 'advcam')


@dataclass
class Step:
    """One stage run: ``python -m <module> <argv()>``; ``argv`` is built when the step is ready to run,
    so it may read what earlier steps wrote (e.g. the final checkpoint of a training stage)."""
    name: str
    module: str
    argv: Callable[[], List[str]]
    after: Tuple[str, ...] = ()
    distributable: bool = False  # takes --launcher pytorch (per-image and training stages)

    def stage(self):
        return importlib.import_module(self.module)

    def status(self) -> str:
        """``'complete'`` or ``'todo'``; a folder made with other settings raises the stage's error."""
        module = self.stage()
        return module.status(module.parse_args(self.argv()))

    def command(self, num_procs: int = 1, port: int = 29500) -> List[str]:
        if num_procs > 1 and self.distributable:
            return [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', str(num_procs),
                    '--master_port', str(port), '-m', self.module, *self.argv(), '--launcher', 'pytorch']
        return [sys.executable, '-m', self.module, *self.argv()]


def _free_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def run_steps(steps: Sequence[Step], jobs: int = 1, num_procs: int = 1, log_dir: Optional[str] = None,
              regenerate: Sequence[str] = (), stream=None) -> Dict[str, float]:
    """Run ``steps`` in dependency order, ``jobs`` at a time; return the seconds each took (0: skipped).

    With one job a step's output goes to ``stream`` (the console); with several, to
    ``<log_dir>/<step>.log`` (its tail is printed when it fails). ``regenerate`` names
    steps whose output is remade even when made otherwise.
    """
    stream = stream or sys.stdout
    names = [s.name for s in steps]
    unknown = sorted({d for s in steps for d in s.after} - set(names))
    if unknown:
        raise ValueError(f'steps depend on unknown steps {unknown}')
    threads = max(1, (os.cpu_count() or 1) // max(1, jobs * num_procs))
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    env.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
    done, seconds, running = set(), {}, {}
    pending = list(steps)

    def say(text):
        stream.write(text + '\n')
        stream.flush()

    while pending or running:
        for step in [s for s in pending if all(d in done for d in s.after)]:
            if len(running) >= jobs:
                break
            pending.remove(step)
            argv_regenerate = step.name in regenerate
            if not argv_regenerate and step.status() == 'complete':
                say(f'[{step.name}] complete with the same settings, skipped')
                done.add(step.name)
                seconds[step.name] = 0.0
                continue
            command = step.command(num_procs, _free_port()) + (['--regenerate'] if argv_regenerate else [])
            say(f'[{step.name}] $ {shlex.join(command[2:] if command[1] == "-m" else command)}')
            log = None
            if jobs > 1 and log_dir:
                os.makedirs(log_dir, exist_ok=True)
                log = open(osp.join(log_dir, f'{step.name}.log'), 'w')
            process = subprocess.Popen(command, env=env, stdout=log or None, stderr=subprocess.STDOUT if log else None)
            running[step.name] = (step, process, log, time.perf_counter())
        if not running:
            if pending:
                raise RuntimeError(f'steps {[s.name for s in pending]} wait for steps that never ran')
            break
        finished = _wait_any(running)
        step, process, log, start = running.pop(finished)
        if log is not None:
            log.close()
        if process.returncode != 0:
            for other in running.values():
                other[1].terminate()
            tail = ''
            if log is not None:
                with open(log.name) as f:
                    tail = '\n' + ''.join(f.readlines()[-40:])
            raise RuntimeError(f'[{step.name}] failed (exit {process.returncode}){tail}')
        seconds[step.name] = time.perf_counter() - start
        done.add(step.name)
        say(f'[{step.name}] done in {seconds[step.name]:.0f}s')
    return seconds


def _wait_any(running: dict) -> str:
    while True:
        for name, (_, process, _, _) in running.items():
            if process.poll() is not None:
                return name
        time.sleep(0.2)


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
        panel_ids: images of the pictures that follow the chain (none: no pictures).
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

    def _split_file(self, config: str) -> str:
        from .datasets import split_ann_file
        from .runner import load_config
        return split_ann_file(load_config(config).train_dataloader.dataset, self.label_split)

    def irn_options(self, method: str) -> List[str]:
        return self._options('irn', self.irn_config, [
            f'train_dataloader.dataset.ann_file={self._split_file(self.irn_config)}',
            f'train_dataloader.dataset.mask_dir={self.chain_path(method, "ir_labels")}', *self._backbone_init()])

    def segmentor_options(self, method: str) -> List[str]:
        return self._options('segmentor', self.segmentor_config, [
            f'train_dataloader.dataset.ann_file={self._split_file(self.segmentor_config)}',
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
        if self.panel_ids:
            steps.append(self.panel_step(classifier_options))
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

    def panel_step(self, classifier_options) -> Step:
        maps = [f'{m.upper() if m == "cam" else "AdvCAM"}={self.chain_path(m, "maps")}' for m in self.methods]
        labels = [f'{m} IRN mask={self.chain_path(m, "pseudo_masks")}' for m in self.methods]
        after = tuple(f'{m} {what}' for m in self.methods for what in ('seeds', 'pseudo masks'))
        return Step('panels', 'advcam_mm.stages.panels', lambda: [
            self.classifier_config, '--maps', *maps, '--seed-threshold',
            *[self.chain_path(m, 'seeds') for m in self.methods], '--labels', *labels, '--ids', *self.panel_ids,
            '--out-dir', self.path('panels'), '--cfg-options', *classifier_options()], after)

    # -- the results -------------------------------------------------------------------------------------
    def results(self) -> dict:
        """mIoU (%) of every finished evaluation: ``{method: {seed, seed_crf, seed_threshold, mask,
        deeplab: {protocol: ...}}, 'cct': {protocol: ...}}``; unfinished ones are None."""
        def metrics(folder):
            path = osp.join(folder, 'metrics.json')
            if not osp.isfile(path):
                return None
            with open(path) as f:
                return json.load(f)

        def percent(value):
            return None if value is None else 100 * value

        def tests(work_dir):
            out = {}
            for protocol in self.test_protocols:
                result = metrics(osp.join(work_dir, f'test_{protocol}'))
                out[protocol] = None if result is None else result.get('mIoU')
            return out
        results = {}
        for method in self.methods:
            seeds = metrics(self.chain_path(method, 'seeds')) or {}
            masks = metrics(self.chain_path(method, 'masks_eval')) or {}
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
        """One row per column of the paper's tables, one column per chain (and the paper's figures)."""
        results = self.results()

        def cell(value):
            return f'{value:7.2f}' if value is not None else f'{"-":>7}'
        rows = [('seed (best threshold)', 'train', lambda r: r['seed']),
                ('seed + CRF', 'train', lambda r: r['seed_crf']),
                ('pseudo mask (IRN)', 'train', lambda r: r['mask'])]
        rows += [(f'DeepLab-v2 {protocol.replace("_", "+").replace("ms+flip+crf", "MS+flip+CRF")}', 'val',
                  lambda r, p=protocol: r['deeplab'][p]) for protocol in self.test_protocols]
        heads = [m.upper() if m == 'cam' else 'AdvCAM' for m in self.methods]
        paper_heads = ['paper CAM', 'paper AdvCAM'] if paper else []
        width = max(len(name) for name, _, _ in rows + [('CCT (semi) MS+flip+CRF', '', None)])
        header = f'{"":<{width}}  {"split":<5}' + ''.join(f' {h:>7}' for h in heads) + \
            ''.join(f' {h:>12}' for h in paper_heads)
        lines = [header, '-' * len(header)]
        for index, (name, split, get) in enumerate(rows):
            line = f'{name:<{width}}  {split:<5}' + ''.join(f' {cell(get(results[m]))}' for m in self.methods)
            if paper:
                line += ''.join(f' {cell(v):>12}' for v in paper['rows'][index])
            lines.append(line)
        if 'cct' in results:
            for protocol in self.test_protocols:
                name = f'CCT (semi) {protocol.replace("_", "+").replace("ms+flip+crf", "MS+flip+CRF")}'
                line = f'{name:<{width}}  {"val":<5}' + ' ' * 8 * (len(self.methods) - 1) + \
                    f' {cell(results["cct"][protocol])}'
                if paper:
                    line += f' {"":>12} {cell(paper["cct"]):>12}'
                lines.append(line)
        return '\n'.join(lines)


def describe(steps: Sequence[Step]) -> str:
    """The steps and their inputs, for ``--dry-run``."""
    return '\n'.join(f'[{s.name}] python -m {s.module}' + (f'   (after: {", ".join(s.after)})' if s.after else '')
                     for s in steps)


def parse_options(items) -> Dict[str, object]:
    """``['steps=8', 'scales=[1.0,0.5]']`` -> dict, with MMEngine's ``--cfg-options`` value parsing."""
    if not items:
        return {}
    from mmengine.config import DictAction
    namespace = argparse.Namespace()
    DictAction(option_strings=[], dest='options')(None, namespace, list(items))
    return dict(namespace.options)
