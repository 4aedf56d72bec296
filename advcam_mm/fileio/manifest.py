"""The stage manifest: ``<output folder>/stage_manifest.json``, what made a stage's output.

Every stage of the pipeline (:mod:`advcam_mm.stages`) writes one next to its
files, atomically, first with ``"status": "incomplete"`` and, when every file
exists, ``"complete"``::

    {
      "format": 1,
      "stage": "class_maps",                 # which stage wrote the folder
      "status": "complete",                  # or "incomplete" (a run is under way or was killed)
      "settings": {...},                     # every setting that changes the files (compared)
      "inputs": {                            # what was read (compared by digest; paths are informative)
        "classifier_checkpoint": {"path": "...", "sha256": "..."},
        "class_maps": {"path": "...", "manifest": "<digest of that folder's manifest>"},
        "dataset": {"path": "...", "manifest": null}
      },
      "digest": "...",                       # sha256 of stage + settings + input digests
      "outputs": {...},                      # e.g. the final checkpoint of a training stage, file counts
      "code_version": "advcam_mm 0.2.0 (git 1a2b3c4)",
      "updated": "2026-11-30T12:00:00"
    }

A downstream stage records ``digest`` as its input, so a folder remade with
other settings changes the digest of everything after it. ``digest`` depends
only on what changes the result, not on paths, times, status or the code
version (recorded, not compared): moving a folder keeps its digest.
"""
import datetime
import hashlib
import json
import os
import os.path as osp
import subprocess
from typing import List, Optional

from .atomic import atomic_write

MANIFEST_NAME = 'stage_manifest.json'
FORMAT = 1
#: Entries of an input that identify its content; the others (``path``, ...) only inform.
DIGEST_KEYS = ('sha256', 'manifest')


class ManifestError(RuntimeError):
    """A manifest that cannot be read, or an output that does not match it; the message says why."""


def manifest_path(folder: str) -> str:
    return osp.join(folder, MANIFEST_NAME)


def jsonable(value):
    """``value`` as JSON would give it back (tuples -> lists, numpy scalars -> numbers)."""
    return json.loads(json.dumps(value, default=_json_default))


def _json_default(value):
    if hasattr(value, 'tolist'):
        return value.tolist()
    raise TypeError(f'{type(value).__name__} is not JSON serialisable')


_SHA256_CACHE = {}


def file_sha256(path: str) -> str:
    """SHA-256 of a file, cached per (path, size, mtime) within the process."""
    stat = os.stat(path)
    key = (osp.abspath(path), stat.st_size, stat.st_mtime_ns)
    if key not in _SHA256_CACHE:
        digest = hashlib.sha256()
        with open(path, 'rb') as f:
            for block in iter(lambda: f.read(1 << 22), b''):
                digest.update(block)
        _SHA256_CACHE[key] = digest.hexdigest()
    return _SHA256_CACHE[key]


def file_input(path: Optional[str]) -> dict:
    """An input file (a checkpoint): its path and content digest; an error names a missing file."""
    if path is None or not osp.isfile(path):
        raise FileNotFoundError(f'{path}: input file not found')
    return dict(path=osp.abspath(path), sha256=file_sha256(path))


def folder_input(folder: str, required: bool = True) -> dict:
    """An input folder: its path and the digest of its manifest (``None`` when it has none).

    ``required``: the folder must hold a complete stage manifest (the output of
    an earlier stage); otherwise (ground truth, a user's data) it may have none.
    """
    manifest = read_manifest(folder)
    if manifest is None:
        if required:
            raise ManifestError(f'{folder}: no {MANIFEST_NAME}; this input must be the output of an earlier '
                                f'stage (run that stage first; files without a manifest are never adopted)')
        return dict(path=osp.abspath(folder), manifest=None)
    if required and manifest.get('status') != 'complete':
        raise ManifestError(f'{manifest_path(folder)}: the {manifest.get("stage")} stage that writes {folder} '
                            f'has not finished (status {manifest.get("status")!r}); run it to the end first')
    return dict(path=osp.abspath(folder), manifest=manifest['digest'])


def settings_digest(stage: str, settings: dict, inputs: dict) -> str:
    """The ``digest`` of a manifest: stage, settings and the inputs' content digests."""
    content = dict(stage=stage, settings=jsonable(settings),
                   inputs={name: {k: v for k, v in entry.items() if k in DIGEST_KEYS}
                           for name, entry in jsonable(inputs).items()})
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def code_version() -> str:
    """``advcam_mm <version>`` plus the git commit of the checkout when there is one (informative)."""
    from .. import __version__
    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    try:
        commit = subprocess.run(['git', '-C', root, 'rev-parse', '--short', 'HEAD'], capture_output=True,
                                text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ''
    return f'advcam_mm {__version__}' + (f' (git {commit})' if commit else '')


def make_manifest(stage: str, settings: dict, inputs: dict, status: str = 'incomplete',
                  outputs: Optional[dict] = None) -> dict:
    return dict(format=FORMAT, stage=stage, status=status, settings=jsonable(settings), inputs=jsonable(inputs),
                digest=settings_digest(stage, settings, inputs), outputs=jsonable(outputs or {}),
                code_version=code_version(), updated=datetime.datetime.now().isoformat(timespec='seconds'))


def read_manifest(folder: str) -> Optional[dict]:
    """The manifest of ``folder``, ``None`` when it has none; an unreadable one is an error naming it."""
    path = manifest_path(folder)
    if not osp.isfile(path):
        return None
    try:
        with open(path) as f:
            manifest = json.load(f)
    except (OSError, ValueError) as error:
        raise ManifestError(f'{path}: unreadable manifest ({error}); remove the folder to start over') from error
    missing = [key for key in ('format', 'stage', 'status', 'settings', 'inputs', 'digest') if key not in manifest]
    if missing:
        raise ManifestError(f'{path}: not a stage manifest (missing {", ".join(missing)})')
    if manifest['format'] != FORMAT:
        raise ManifestError(f'{path}: manifest format {manifest["format"]}, this version reads {FORMAT}')
    return manifest


def write_manifest(folder: str, manifest: dict) -> None:
    os.makedirs(folder, exist_ok=True)
    with atomic_write(manifest_path(folder), 'w') as f:
        json.dump(manifest, f, indent=2, sort_keys=True)


def _flatten(value, prefix=''):
    if isinstance(value, dict) and value:
        flat = {}
        for key, item in value.items():
            flat.update(_flatten(item, f'{prefix}{key}.'))
        return flat
    return {prefix[:-1]: value}


def differences(recorded: dict, expected: dict) -> List[str]:
    """``key: recorded -> expected`` lines for the settings and the inputs' digests that differ."""
    def comparable(manifest):
        return dict(stage=manifest['stage'], settings=jsonable(manifest['settings']),
                    inputs={name: {k: v for k, v in entry.items() if k in DIGEST_KEYS}
                            for name, entry in jsonable(manifest['inputs']).items()})
    old, new = _flatten(comparable(recorded)), _flatten(comparable(expected))
    return [f'{key}: {old.get(key, "<absent>")!r} -> {new.get(key, "<absent>")!r}'
            for key in sorted(set(old) | set(new)) if old.get(key, '<absent>') != new.get(key, '<absent>')]
