"""Output files written by one background thread, so that the GPU does not wait for the disk.

Class-map generation hands each finished image to :class:`BackgroundWriter`
(e.g. ``writer.submit(save_cam_file, path, keys, strided, high_res)``) and
goes on climbing. A bounded queue keeps at most ``max_pending`` results in
memory (``submit`` blocks when it is full). The first failing save stops
the writing: it is raised, naming the file, by the next ``submit``,
``flush`` or ``close``; later saves are dropped. The save functions of
:mod:`advcam_mm.fileio` write atomically, so an interrupted run leaves no
partial file and a rerun that skips existing files resumes.
"""
import queue
import threading
from typing import Callable


class BackgroundWriteError(RuntimeError):
    """A save that failed on the writer thread; ``__cause__`` is the original error."""


class BackgroundWriter:
    """Run ``save_fn(path, *args, **kwargs)`` calls in order on one thread behind a bounded queue.

    Use as a context manager (``close`` on exit) or call ``close()``; both
    wait for every submitted save. Arguments should be host data (move
    tensors to the CPU before submitting).
    """

    _STOP = object()

    def __init__(self, max_pending: int = 16, name: str = 'background-writer'):
        if max_pending < 1:
            raise ValueError(f'max_pending must be >= 1, got {max_pending}')
        self._queue = queue.Queue(maxsize=max_pending)
        self._error = None
        self._closed = False
        self.written = 0
        # A daemon: a crashed caller does not hang at exit; what is lost then is redone by a rerun.
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is self._STOP:
                    return
                save_fn, path, args, kwargs = item
                if self._error is None:
                    try:
                        save_fn(path, *args, **kwargs)
                        self.written += 1
                    except BaseException as error:  # noqa: BLE001 - handed to the caller's thread
                        name = getattr(save_fn, '__name__', repr(save_fn))
                        self._error = BackgroundWriteError(f'{path}: {name} failed: {type(error).__name__}: {error}')
                        self._error.__cause__ = error
            finally:
                self._queue.task_done()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def submit(self, save_fn: Callable, path, *args, **kwargs) -> None:
        """Queue ``save_fn(path, *args, **kwargs)``; raises an earlier save's error."""
        if self._closed:
            raise RuntimeError(f'{path}: the background writer is closed')
        self._raise_if_failed()
        self._queue.put((save_fn, path, args, kwargs))

    def flush(self) -> None:
        """Wait until every submitted save has run; raise the first error."""
        self._queue.join()
        self._raise_if_failed()

    def close(self, raise_error: bool = True) -> None:
        """Finish the submitted saves and stop the thread; raise the first error unless told not to."""
        if not self._closed:
            self._closed = True
            self._queue.put(self._STOP)
            self._thread.join()
        if raise_error:
            self._raise_if_failed()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, traceback):
        self.close(raise_error=exc_type is None)  # an error in the caller's block wins
        return False
