"""A stage's settings come from its config, the one source of their values (the authors' on VOC).

``label_generation`` (class maps), ``ir_labels`` and ``random_walk`` (IRN) are
dicts of the configs (``configs/_base_/label_generation.py``); a stage reads
the names it knows, all of which must be there, and applies explicit
overrides (command-line options). There are no defaults in the code.
"""
from typing import Sequence


def config_settings(cfg, key: str, names: Sequence[str], **overrides) -> dict:
    """``cfg[key]`` with every one of ``names`` present, then the non-None ``overrides``."""
    given = dict(cfg.get(key) or {})
    missing = [name for name in names if name not in given]
    if missing:
        where = getattr(cfg, 'filename', None) or 'the config'
        raise KeyError(f'{where}: {key} lacks {", ".join(missing)} (the config holds every setting of this '
                       f'stage; see configs/_base_/label_generation.py)')
    unknown = sorted(set(given) - set(names)) + sorted(k for k, v in overrides.items()
                                                        if v is not None and k not in names)
    if unknown:
        raise KeyError(f'unknown {key} settings {unknown}; known: {sorted(names)}')
    given.update({k: v for k, v in overrides.items() if v is not None})
    return given


SEED_CRF_KEYS = ('t', 'gt_prob', 'gaussian_sxy', 'gaussian_compat', 'bilateral_sxy', 'bilateral_srgb',
                 'bilateral_compat')


def seed_crf_settings(cfg) -> dict:
    """The config's ``seed_crf``: the dense CRF of the "+CRF" seeds, the IR labels and the ``crf`` refiner."""
    return config_settings(cfg, 'seed_crf', SEED_CRF_KEYS)


def normalisation(cfg) -> tuple:
    """``(mean, std)`` of the model's ``data_preprocessor`` (RGB, 0-255)."""
    preprocessor = cfg.model.get('data_preprocessor') or {}
    if 'mean' not in preprocessor or 'std' not in preprocessor:
        raise KeyError('the model config has no data_preprocessor mean/std')
    return [float(v) for v in preprocessor['mean']], [float(v) for v in preprocessor['std']]
