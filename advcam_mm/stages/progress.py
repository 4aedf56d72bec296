"""A one-line progress report for loops over images: done/total, images/s, ETA (rank 0 only)."""
import sys
import time


class RankZeroProgress:
    """Print ``title: done/total, x.xx images/s, ETA mm:ss`` on rank 0.

    Skipped items (already finished on disk) count as done but not in the
    rate, so a resumed run shows a true speed and ETA. On a terminal the line
    is rewritten in place (every ``min_interval`` s); into a log file a new
    line is written every ``log_interval`` s.
    """

    def __init__(self, total: int, rank: int = 0, enabled: bool = True, title: str = '',
                 stream=None, min_interval: float = 0.5, log_interval: float = 10.0):
        self.total = total
        self.enabled = enabled and rank == 0 and total > 0
        self.title = title
        self.stream = stream or sys.stdout
        self.interactive = bool(getattr(self.stream, 'isatty', lambda: False)())
        self.min_interval = min_interval if self.interactive else log_interval
        self.done = self.computed = 0
        self.start = time.perf_counter()
        self.last_print = 0.0

    def update(self, skipped: bool = False) -> None:
        self.done += 1
        self.computed += not skipped
        now = time.perf_counter()
        if self.enabled and (now - self.last_print >= self.min_interval or self.done == self.total):
            self.last_print = now
            self.stream.write('\r' + self.line(now) if self.interactive else self.line(now) + '\n')
            self.stream.flush()

    def line(self, now=None) -> str:
        elapsed = (now or time.perf_counter()) - self.start
        rate = self.computed / elapsed if elapsed > 0 else 0.0
        remaining = (self.total - self.done) / rate if rate > 0 else float('nan')
        eta = '--:--' if remaining != remaining else f'{int(remaining) // 60:02d}:{int(remaining) % 60:02d}'
        return f'{self.title}: {self.done}/{self.total}, {rate:.2f} images/s, ETA {eta}'

    def close(self) -> None:
        if self.enabled and self.interactive:
            self.stream.write('\n')
            self.stream.flush()
