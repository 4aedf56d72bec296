"""A generated folder that appears whole or not at all: build it in a temporary sibling, then rename.

For generators of small datasets (the embedded VOC dataset, the COCO-format
miniature): the folder is complete when its manifest
(written last by the generator) says so; otherwise it is regenerated into
``.<name>.<random>.tmp`` beside it under an exclusive lock (several processes,
e.g. distributed ranks, may ask at once) and renamed into place, so a killed
run never leaves half a dataset at the final path. A non-empty folder without
the manifest was not made by the generator and is replaced only when forced.
"""
import contextlib
import json
import os
import os.path as osp
import shutil
import tempfile


@contextlib.contextmanager
def folder_lock(path):
    """Exclusive ``flock`` on ``path`` (created; a no-op where ``fcntl`` is unavailable)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover (Windows)
        yield
        return
    with open(path, 'a') as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def generated_manifest(folder, manifest_name, params):
    """The generator's manifest in ``folder`` when it records ``params``, else ``None`` (absent, unreadable,
    or made with other parameters)."""
    try:
        with open(osp.join(folder, manifest_name)) as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and manifest.get('params') == params else None


def generate_folder(out_dir, is_complete, generate, manifest_name, force=False, who='generator'):
    """Make ``out_dir`` with ``generate(folder)`` unless ``is_complete(out_dir)``; return ``out_dir``.

    Args:
        out_dir: the final folder.
        is_complete: ``f(folder) -> bool``, true for a finished generation with the wanted settings.
        generate: ``f(folder)`` writes everything into the (temporary) ``folder``, its manifest last.
        manifest_name: the manifest's file name, whose absence marks a folder the generator did not make.
        force: regenerate even if complete, and replace a foreign folder.
        who: the generator's name, for the error message.
    """
    out_dir = osp.abspath(os.fspath(out_dir))
    if not force and is_complete(out_dir):
        return out_dir
    parent, name = osp.split(out_dir)
    os.makedirs(parent, exist_ok=True)
    with folder_lock(osp.join(parent, f'.{name}.lock')):
        if not force and is_complete(out_dir):
            return out_dir
        if osp.isdir(out_dir) and os.listdir(out_dir) and not force \
                and not osp.isfile(osp.join(out_dir, manifest_name)):
            raise FileExistsError(f'{who}: {out_dir} exists and was not made by this generator '
                                  f'(no {manifest_name}); pass force=True (--force) to replace it')
        for stale in os.listdir(parent):  # left by a killed run (only the lock holder writes them)
            if stale.startswith(f'.{name}.') and stale.endswith('.tmp'):
                shutil.rmtree(osp.join(parent, stale), ignore_errors=True)
        work = tempfile.mkdtemp(prefix=f'.{name}.', suffix='.tmp', dir=parent)
        try:
            generate(work)
            if osp.exists(out_dir):
                shutil.rmtree(out_dir)
            os.replace(work, out_dir)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
    return out_dir
