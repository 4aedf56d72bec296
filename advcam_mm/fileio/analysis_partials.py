"""Files of the Fig. 6 analysis (:mod:`advcam_mm.stages.advcam_analysis`).

* ``<out_dir>/partials/<setting>/<image id>.npz``: one image's counts for one
  climbing setting (:func:`advcam_mm.evaluation.advcam_iterations.image_partials`),
  compressed, written atomically, so a rerun or a resumed run skips it;
* ``<out_dir>/analysis.csv``: one row per setting and iteration t (mIoU and noise in %).
"""
import csv
import io
import os.path as osp

import numpy as np

from ..core.advcam import SWEPT_PARAMETERS
from .atomic import atomic_write

PARTIALS_DIR = 'partials'


def setting_tag(setting: dict) -> str:
    """Folder name of a setting's partials, e.g. ``coef7_thresh0.5_step0.08``."""
    return (f"coef{setting['mask_coef']:g}_thresh{setting['mask_thresh']:g}"
            f"_step{setting['step_size']:g}")


def partial_path(out_dir: str, setting: dict, image_id: str) -> str:
    """Where one image's counts of one setting are kept."""
    return osp.join(out_dir, PARTIALS_DIR, setting_tag(setting), f'{image_id}.npz')


def save_partials(path: str, partials: dict) -> None:
    """Write one image's counts atomically (int32 where they fit, compressed)."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, classes=partials['classes'].astype(np.int64),
                        **{key: partials[key].astype(np.int32 if partials[key].max(initial=0) < 2 ** 31
                                                      else np.int64)
                           for key in ('confusions', 'added', 'noise')})
    with atomic_write(path) as f:
        f.write(buffer.getvalue())


def load_partials(path: str, num_steps: int, num_thresholds: int) -> dict:
    """Read one image's counts; a clear error names a missing or inconsistent file."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: partial analysis result not found (run the analysis first)')
    try:
        with np.load(path) as content:
            partials = {key: content[key].astype(np.int64) for key in ('classes', 'confusions', 'added', 'noise')}
    except Exception as error:  # noqa: BLE001 - re-raised with the file named
        raise ValueError(f'{path}: not a readable partial analysis result ({error})') from error
    m = len(partials['classes'])
    if (partials['confusions'].shape != (num_steps, num_thresholds, m, m)
            or partials['added'].shape != (num_steps, num_thresholds)
            or partials['noise'].shape != (num_steps, num_thresholds)):
        raise ValueError(f'{path}: counts of shape {partials["confusions"].shape} do not match '
                         f'{num_steps} steps and {num_thresholds} thresholds')
    return partials


def write_analysis_csv(result: dict, path: str) -> None:
    """One row per setting and iteration t (mIoU and noise in %)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator='\n')
    writer.writerow([*SWEPT_PARAMETERS, 't', 'seed_miou', 'best_threshold', 'noise_proportion',
                     'added_pixels', 'noise_pixels', 'noise_threshold', 'num_images'])
    for s, setting in enumerate(result['settings']):
        for t in range(result['steps']):
            noise = result['noise'][s, t]
            writer.writerow([*(f'{setting[k]:g}' for k in SWEPT_PARAMETERS), t + 1,
                             f"{100 * result['miou'][s, t]:.4f}", f"{result['best_threshold'][s, t]:g}",
                             '' if np.isnan(noise) else f'{100 * noise:.4f}', int(result['added'][s, t]),
                             int(result['noise_pixels'][s, t]), f"{result['noise_threshold']:g}",
                             result['num_images']])
    with atomic_write(path, 'w') as f:
        f.write(buffer.getvalue())
