"""Running a pipeline's steps: in dependency order, concurrently when their inputs are ready, resumably.

A :class:`Step` is one stage run, ``python -m advcam_mm.stages.<stage> ...``
(the command line of its tool). Before a step runs, :func:`run_steps` asks the
stage, in this process, whether its output folder is complete with the same
settings and inputs (its manifest); then it is skipped. A folder made
otherwise stops the run with the stage's list of differences (``regenerate``
remakes it). Steps whose inputs are ready run concurrently up to ``jobs`` at a
time, each with its share of the cores: forked from this process (no re-import
of torch and MMSeg per step), or under ``torch.distributed.run`` for several
processes; their output then goes to ``<log_dir>/<step>.log``.
"""
import importlib
import os
import os.path as osp
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple


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

    def command(self, argv: List[str], num_procs: int = 1, port: int = 29500) -> List[str]:
        """The command line that runs the step alone (under ``torch.distributed.run`` for several processes)."""
        if num_procs > 1 and self.distributable:
            return [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', str(num_procs),
                    '--master_port', str(port), '-m', self.module, *argv, '--launcher', 'pytorch']
        return [sys.executable, '-m', self.module, *argv]


def _free_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _stage_in_child(module: str, argv: List[str], log_path: Optional[str], threads: int) -> None:
    """Body of a forked step: the stage's ``main(argv)``, output to ``log_path`` when given."""
    if log_path:
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        # sys.stdout may not write to descriptor 1 (a driver whose output is captured, e.g. by pytest)
        sys.stdout = open(1, 'w', buffering=1, closefd=False)
        sys.stderr = open(2, 'w', buffering=1, closefd=False)
    os.environ.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    import torch
    torch.set_num_threads(threads)
    try:
        importlib.import_module(module).main(argv)
    except SystemExit as error:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(error.code if isinstance(error.code, int) else 1)
    except BaseException:  # noqa: BLE001 - reported through the exit code and the log
        import traceback
        traceback.print_exc()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


class _Job:
    """A running step: a forked process (the stage's main, no re-import of torch and MMSeg) or, for
    several processes, ``torch.distributed.run`` in a subprocess."""

    def __init__(self, step: Step, argv: List[str], num_procs: int, threads: int, log_path: Optional[str]):
        self.step, self.log_path, self.start = step, log_path, time.perf_counter()
        import torch
        if (num_procs > 1 and step.distributable) or torch.cuda.is_initialized():
            command = step.command(argv, num_procs, _free_port())
            env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
            self.log = open(log_path, 'w') if log_path else None
            self.process = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT if self.log else None)
            self.poll = lambda: self.process.poll()
        else:
            import multiprocessing
            self.log = None
            self.process = multiprocessing.get_context('fork').Process(
                target=_stage_in_child, args=(step.module, argv, log_path, threads), name=step.name)
            self.process.start()
            self.poll = lambda: None if self.process.is_alive() else self.process.exitcode

    def terminate(self):
        self.process.terminate()

    def finish(self) -> int:
        if self.log is not None:
            self.log.close()
        if hasattr(self.process, 'join'):
            self.process.join()
        return self.poll()


def run_steps(steps: Sequence[Step], jobs: int = 1, num_procs: int = 1, log_dir: Optional[str] = None,
              regenerate: Sequence[str] = (), stream=None) -> Dict[str, float]:
    """Run ``steps`` in dependency order, ``jobs`` at a time; return the seconds each took (0: skipped).

    With one job a step's output goes to the console; with several, to
    ``<log_dir>/<step>.log`` (its tail is printed when it fails). ``regenerate``
    names steps whose output is remade even when made otherwise. Each step
    prints the command that runs it alone.
    """
    stream = stream or sys.stdout
    names = [s.name for s in steps]
    unknown = sorted({d for s in steps for d in s.after} - set(names))
    if unknown:
        raise ValueError(f'steps depend on unknown steps {unknown}')
    cores = os.cpu_count() or 1
    threads = max(1, cores // max(1, jobs * num_procs))
    os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
    done, seconds, running = set(), {}, {}
    waiting_on = _descendant_counts(steps)
    # among ready steps, the one more steps wait on goes first (the longest chain sets the run's length)
    pending = sorted(steps, key=lambda s: -waiting_on[s.name])

    def say(text):
        stream.write(text + '\n')
        stream.flush()

    try:
        while pending or running:
            ready = [s for s in pending if all(d in done for d in s.after)]
            for step in ready:
                if len(running) >= jobs:
                    break
                pending.remove(step)
                remake = step.name in regenerate
                if not remake and step.status() == 'complete':
                    say(f'[{step.name}] complete with the same settings, skipped')
                    done.add(step.name)
                    seconds[step.name] = 0.0
                    continue
                argv = step.argv() + (['--regenerate'] if remake else [])
                say(f'[{step.name}] $ python -m {step.module} {shlex.join(argv)}')
                log_path = None
                if jobs > 1 and log_dir:
                    os.makedirs(log_dir, exist_ok=True)
                    log_path = osp.join(log_dir, f'{step.name.replace(" ", "_")}.log')
                stream.flush()
                alone = not running and len(ready) == 1  # nothing else could run now: all the cores
                running[step.name] = _Job(step, argv, num_procs,
                                          max(1, cores // num_procs) if alone else threads, log_path)
            if not running:
                if any(all(d in done for d in s.after) for s in pending):
                    continue  # the steps just skipped made others ready
                if pending:
                    raise RuntimeError(f'steps {[s.name for s in pending]} wait for steps that never ran')
                break
            name = _wait_any(running)
            job = running.pop(name)
            code = job.finish()
            if code != 0:
                tail = ''
                if job.log_path:
                    with open(job.log_path) as f:
                        tail = '\n' + ''.join(f.readlines()[-40:])
                raise RuntimeError(f'[{name}] failed (exit {code}){tail}')
            seconds[name] = time.perf_counter() - job.start
            done.add(name)
            say(f'[{name}] done in {seconds[name]:.0f}s')
    finally:
        for job in running.values():
            job.terminate()
            job.finish()
    return seconds


def _descendant_counts(steps: Sequence[Step]) -> Dict[str, int]:
    """Name -> how many steps wait on it, directly or through others."""
    children = {s.name: [c.name for c in steps if s.name in c.after] for s in steps}
    counts = {}

    def below(name):
        if name not in counts:
            counts[name] = set(children[name]).union(*(below(c) for c in children[name]))
        return counts[name]
    return {s.name: len(below(s.name)) for s in steps}


def _wait_any(running: dict) -> str:
    while True:
        for name, job in running.items():
            if job.poll() is not None:
                return name
        time.sleep(0.2)


def describe(steps: Sequence[Step]) -> str:
    """The steps and their inputs, for ``--dry-run``."""
    return '\n'.join(f'[{s.name}] python -m {s.module}' + (f'   (after: {", ".join(s.after)})' if s.after else '')
                     for s in steps)
