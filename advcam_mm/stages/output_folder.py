"""The stage protocol: one output folder per stage, checked against its manifest before anything is written.

Every stage (:mod:`advcam_mm.stages`) describes the run it is about to make
(its ``settings`` and ``inputs``, :mod:`advcam_mm.fileio.manifest`) and asks
:meth:`OutputFolder.plan` what to do with the folder it writes:

* no manifest and no output file: ``'fresh'``;
* a manifest with the same settings and inputs: ``'reuse'`` when complete
  (the stage then makes only files that are missing, e.g. for a larger split),
  ``'resume'`` when a run was interrupted (finished files are kept);
* a manifest with other settings or inputs: refused with a
  :class:`StageMismatchError` that names every difference, unless
  ``regenerate`` (then ``'regenerate'``: the stage's files and manifest are
  removed by :meth:`OutputFolder.start`);
* output files but no manifest: refused; such files (ground truth, another
  tool's output) are never adopted or deleted.

The rank that plans is rank 0 (:func:`advcam_mm.stages.distributed.decide_on_rank_zero`);
only it writes the manifest.
"""
import glob
import json
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

from ..evaluation.iou_table import without_nan
from ..fileio.atomic import atomic_write
from ..fileio.manifest import (MANIFEST_NAME, differences, jsonable, make_manifest, manifest_path,
                               read_manifest, write_manifest)

PLANS = ('fresh', 'reuse', 'resume', 'regenerate')


class StageMismatchError(RuntimeError):
    """A stage's output folder holds files made otherwise; the message lists the differences."""


@dataclass
class OutputFolder:
    """The folder a stage writes, with what the stage is about to make.

    Args:
        path: the folder.
        stage: the stage's name (``'class_maps'``, ...), recorded and checked.
        settings: every setting that changes the files.
        inputs: what is read (:func:`~advcam_mm.fileio.manifest.file_input`,
            :func:`~advcam_mm.fileio.manifest.folder_input`).
        patterns: globs of the stage's own files (removed on regenerate,
            refused when found without a manifest).
    """
    path: str
    stage: str
    settings: dict
    inputs: dict
    patterns: Sequence[str] = ('*',)
    outputs: dict = field(default_factory=dict)

    def __post_init__(self):
        # a copy: what the stage does to its config afterwards must not change what was described
        self.settings, self.inputs = jsonable(self.settings), jsonable(self.inputs)

    def expected_manifest(self, status='incomplete') -> dict:
        return make_manifest(self.stage, self.settings, self.inputs, status, self.outputs)

    def recorded_manifest(self) -> Optional[dict]:
        return read_manifest(self.path)

    def stage_files(self) -> list:
        files = set()
        for pattern in self.patterns:
            files.update(p for p in glob.glob(osp.join(self.path, pattern)) if osp.basename(p) != MANIFEST_NAME)
        return sorted(files)

    def plan(self, regenerate: bool = False) -> str:
        """``'fresh'``, ``'reuse'``, ``'resume'`` or ``'regenerate'``; see the module docstring."""
        recorded = self.recorded_manifest()
        if recorded is None:
            strays = self.stage_files()
            if strays:
                raise StageMismatchError(
                    f'{self.path} holds {len(strays)} files (e.g. {osp.basename(strays[0])}) but no '
                    f'{MANIFEST_NAME}: they were not made by the {self.stage} stage with a manifest, so they '
                    f'are neither adopted nor deleted. Choose an empty folder, or remove them yourself.')
            return 'fresh'
        changed = differences(recorded, self.expected_manifest())
        if changed:
            if regenerate:
                return 'regenerate'
            raise StageMismatchError(
                f'{manifest_path(self.path)}: the files in {self.path} were made by the {recorded["stage"]} stage '
                f'with other settings or inputs (recorded -> now):\n  ' + '\n  '.join(changed) +
                '\nRefusing to mix them or to remake them silently: pass --regenerate (regenerate=True) to '
                'replace them, or choose another output folder.')
        return 'reuse' if recorded['status'] == 'complete' else 'resume'

    def start(self, plan: str) -> None:
        """Create the folder (removing this stage's files first when regenerating); mark it incomplete."""
        if plan not in PLANS:
            raise ValueError(f'unknown plan {plan!r}; expected one of {PLANS}')
        os.makedirs(self.path, exist_ok=True)
        if plan == 'regenerate':
            for path in self.stage_files():
                if osp.isdir(path):
                    continue
                os.remove(path)
            os.remove(manifest_path(self.path))
        write_manifest(self.path, self.expected_manifest('incomplete'))

    def complete(self, **outputs) -> dict:
        """Mark the folder complete, recording ``outputs`` (e.g. a checkpoint, file counts)."""
        self.outputs = dict(self.outputs, **outputs)
        manifest = self.expected_manifest('complete')
        write_manifest(self.path, manifest)
        return manifest

    def is_complete(self) -> bool:
        """True when a complete manifest with these settings and inputs is there."""
        recorded = self.recorded_manifest()
        return (recorded is not None and recorded['status'] == 'complete'
                and not differences(recorded, self.expected_manifest()))


METRICS_FILE = 'metrics.json'


def evaluate_into(folder: OutputFolder, evaluate: Callable[[], dict], regenerate: bool = False) -> dict:
    """An evaluation stage's metrics: read back from ``<folder>/metrics.json`` when the folder is
    complete with the same settings and inputs, else ``evaluate()`` written there (NaN as null).

    Returns the metrics with ``out_dir`` and ``plan`` added.
    """
    decision = folder.plan(regenerate)
    path = osp.join(folder.path, METRICS_FILE)
    if decision == 'reuse' and osp.isfile(path):
        return dict(read_metrics(folder.path), out_dir=folder.path, plan=decision)
    folder.start(decision)
    metrics = without_nan(evaluate())
    with atomic_write(path, 'w') as f:
        json.dump(metrics, f, indent=2)
    folder.complete(**{k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)})
    return dict(metrics, out_dir=folder.path, plan=decision)


def read_metrics(folder: str) -> Optional[dict]:
    """``<folder>/metrics.json`` of an evaluation stage, None when it has not been written."""
    path = osp.join(folder, METRICS_FILE)
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def metrics_status(folder: OutputFolder, regenerate: bool = False) -> str:
    """``'complete'`` when :func:`evaluate_into` would read the metrics back, else ``'todo'``."""
    done = folder.plan(regenerate) == 'reuse' and osp.isfile(osp.join(folder.path, METRICS_FILE))
    return 'complete' if done else 'todo'
