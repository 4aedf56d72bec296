"""CPU-bound per-image work (dense CRF, metrics) in worker processes, with a progress line.

One thread per worker and passive OpenMP waiting: several processes share the
cores (busy-waiting OpenMP threads slow such runs several times).
"""
import multiprocessing
import os
import sys

from .progress import RankZeroProgress


def _init_worker():
    os.environ['OMP_WAIT_POLICY'] = 'PASSIVE'
    if 'torch' in sys.modules:
        sys.modules['torch'].set_num_threads(1)


def map_images(function, items, num_workers: int = 2, title: str = '', progress: bool = True,
               start_method=None):
    """Yield ``function(item)`` for every item (any order), in ``num_workers`` processes when > 1."""
    items = list(items)
    bar = RankZeroProgress(len(items), enabled=progress, title=title)
    pool = None
    if num_workers <= 1 or len(items) <= 1:
        results = map(function, items)
    else:
        os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
        if start_method is None:
            start_method = 'fork' if 'fork' in multiprocessing.get_all_start_methods() else 'spawn'
        pool = multiprocessing.get_context(start_method).Pool(num_workers, initializer=_init_worker)
        chunksize = max(1, min(16, len(items) // (8 * num_workers)))
        results = pool.imap_unordered(function, items, chunksize=chunksize)
    try:
        for result in results:
            bar.update()
            yield result
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
        bar.close()


def check_files_exist(paths, what: str, hint: str = '') -> None:
    """Fail before any work when a file is missing, naming the first and counting the rest."""
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        more = f' (and {len(missing) - 1} more)' if len(missing) > 1 else ''
        raise FileNotFoundError(f'{missing[0]}: {what} not found{more}{hint}')
