"""Stage: test a segmentor checkpoint on a config's test set (single scale, or multi-scale + flip, +CRF).

Reads     the config (test data, evaluator, ``model.test_cfg`` with its CRF switch,
          ``tta_model`` and ``tta_pipeline``) and the checkpoint.
Writes    ``<work_dir>/metrics.json`` (MMSeg's ``IoUMetric``: mIoU, aAcc, ... in %) and the
          manifest; MMEngine's logs beside them.
Settings  ``tta`` (the config's ``tta_model`` over ``tta_pipeline``), the test dataset,
          evaluator and ``model.test_cfg`` (e.g. ``crf.enabled``), the checkpoint's digest.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--tta] [--cfg-options model.test_cfg.crf.enabled=True]
        [--show] [--show-dir DIR] [--wait-time 2]      (MMSeg's overlays through its visualizer)
"""
import argparse
import json
import os.path as osp

from ..evaluation.iou_table import without_nan
from ..fileio.atomic import atomic_write
from ..fileio.manifest import file_input
from .output_folder import METRICS_FILE, OutputFolder, read_metrics
from .runner import build_runner, load_config, set_local_rank_env

STAGE = 'testing'


def test_settings(cfg, tta: bool) -> dict:
    loader = dict(cfg.test_dataloader)
    dataset = dict(loader['dataset'], pipeline=cfg.tta_pipeline if tta else loader['dataset'].get('pipeline'))
    return dict(tta=bool(tta), test_cfg=cfg.model.get('test_cfg'), dataset=dataset,
                evaluator=cfg.get('test_evaluator'), tta_model=cfg.get('tta_model') if tta else None)


def default_work_dir(config: str, checkpoint: str, tta: bool) -> str:
    stem = osp.splitext(osp.basename(checkpoint))[0]
    return osp.join(osp.dirname(osp.abspath(checkpoint)), f'test_{stem}' + ('_tta' if tta else ''))


def describe(cfg, checkpoint, tta) -> OutputFolder:
    return OutputFolder(cfg.work_dir, STAGE, test_settings(cfg, tta), dict(checkpoint=file_input(checkpoint)),
                        patterns=(METRICS_FILE,))


def trigger_visualization_hook(cfg, show=False, show_dir=None, wait_time=2.0):
    """Switch on the config's ``SegVisualizationHook`` for ``--show`` / ``--show-dir`` (MMSeg's tools/test.py).

    As MMSeg: ``draw=True``; ``--show`` sets ``show`` and ``wait_time``;
    ``--show-dir`` becomes the visualizer's ``save_dir``, where
    ``SegLocalVisualizer`` (``LocalVisBackend``) writes
    ``SHOW_DIR/vis_data/vis_image/test_<image file>_0.png``: ground truth | prediction.
    Unlike MMSeg, every test image is painted: the hook is added when the
    config has none (MMSeg raises), and its ``interval`` is 1 unless the
    config sets one (the hook's default, 50, painted one image in fifty:
    open-mmlab/mmsegmentation #2975, #3156).
    """
    if cfg.get('default_hooks') is None:
        cfg.default_hooks = dict()
    if cfg.default_hooks.get('visualization') is None:
        cfg.default_hooks.visualization = dict(type='SegVisualizationHook')
    hook = cfg.default_hooks.visualization  # (assigning copies a dict into a ConfigDict: read it back)
    hook['draw'] = True
    hook.setdefault('interval', 1)
    if show:
        hook['show'] = True
        hook['wait_time'] = wait_time
    if show_dir:
        cfg.visualizer['save_dir'] = show_dir
    return cfg


def run(config, checkpoint, work_dir=None, tta=False, out=None, cfg_options=None, launcher='none',
        regenerate=False, show=False, show_dir=None, wait_time=2.0) -> dict:
    """Test ``checkpoint`` (or reuse a finished test with the same settings); return the metrics."""
    cfg = load_config(config, cfg_options, work_dir or default_work_dir(config, checkpoint, tta), launcher)
    folder = describe(cfg, checkpoint, tta)
    decision = folder.plan(regenerate)
    if decision == 'reuse' and osp.isfile(osp.join(cfg.work_dir, METRICS_FILE)) and not (show or show_dir):
        metrics = read_metrics(cfg.work_dir)
        print(f'{cfg.work_dir}: tested with the same settings: {metrics}', flush=True)
        return metrics
    cfg.load_from = checkpoint
    # Testing builds no training parts: MMSeg's SegVisualizationHook asks for runner.iter, which would
    # otherwise build the train loop and so need the training set (and its pseudo masks) on this machine.
    for key in ('train_dataloader', 'train_cfg', 'optim_wrapper', 'param_scheduler'):
        cfg[key] = None
    if show or show_dir:
        cfg = trigger_visualization_hook(cfg, show, show_dir, wait_time)
    if tta:
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    if out is not None:
        cfg.test_evaluator['output_dir'] = out
        cfg.test_evaluator['keep_results'] = True
    runner = build_runner(cfg, config)
    if runner.rank == 0:
        folder.start(decision)
    metrics = without_nan({k: float(v) if hasattr(v, '__float__') else v for k, v in runner.test().items()})
    if runner.rank == 0:
        with atomic_write(osp.join(cfg.work_dir, METRICS_FILE), 'w') as f:
            json.dump(metrics, f, indent=2)
        folder.complete(**{k: v for k, v in metrics.items() if isinstance(v, (int, float))})
    return metrics


def status(args) -> str:
    cfg = load_config(args.config, args.cfg_options,
                      args.work_dir or default_work_dir(args.config, args.checkpoint, args.tta))
    if not osp.isfile(args.checkpoint):
        return 'todo'
    folder = describe(cfg, args.checkpoint, args.tta)
    done = folder.plan(args.regenerate) == 'reuse' and osp.isfile(osp.join(cfg.work_dir, METRICS_FILE))
    return 'complete' if done else 'todo'


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description='Test a checkpoint')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='folder for metrics.json, logs and the manifest '
                        '(default: test_<checkpoint>[_tta] beside the checkpoint)')
    parser.add_argument('--out', help='folder to write prediction PNGs (IoUMetric output_dir)')
    parser.add_argument('--show', action='store_true', help='show each prediction in a window')
    parser.add_argument('--show-dir', help='folder for the painted images (ground truth | prediction over the '
                        'image), written under SHOW_DIR/vis_data/vis_image/')
    parser.add_argument('--wait-time', type=float, default=2, help='seconds each --show window stays')
    parser.add_argument('--tta', action='store_true', help="test-time augmentation (the config's tta_model)")
    parser.add_argument('--regenerate', action='store_true', help='retest a work dir tested otherwise')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value (MMEngine syntax)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    set_local_rank_env(args.local_rank)
    run(args.config, args.checkpoint, args.work_dir, args.tta, args.out, args.cfg_options, args.launcher,
        args.regenerate, args.show, args.show_dir, args.wait_time)


if __name__ == '__main__':
    main()
