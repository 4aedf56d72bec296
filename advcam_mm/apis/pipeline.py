"""A pipeline of stages, each a command whose output marks it finished (skipped on rerun).

``tools/demo.py`` builds the AdvCAM pipeline from these; each stage runs one of
the project's tools in a subprocess, exactly as a user would type it, so the
demo exercises the real command lines. A stage is finished when its marker
file exists; the tools themselves also resume inside a stage (per-image files).
"""
import os
import os.path as osp
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, List, Optional


@dataclass
class Stage:
    """One pipeline step: ``command`` makes ``marker`` (a file or folder) when it succeeds."""
    name: str
    command: List[str]
    marker: str
    env: dict = field(default_factory=dict)
    after: Optional[Callable[[], None]] = None  # e.g. write the marker of a tool that has none

    def done(self) -> bool:
        return osp.exists(self.marker)


def touch_when_done(path: str) -> Callable[[], None]:
    """A ``Stage.after`` that writes an empty marker file (for tools whose output is a folder)."""
    def touch():
        open(path, 'w').close()
    return touch


def run_stage(stage: Stage, cwd: str) -> float:
    """Run ``stage`` unless finished; return the seconds it took (0 when skipped)."""
    if stage.done():
        print(f'[{stage.name}] finished earlier ({stage.marker}), skipped', flush=True)
        return 0.0
    command = [sys.executable if part == 'python' else part for part in stage.command]
    print(f'[{stage.name}] $ {shlex.join(stage.command)}', flush=True)
    start = time.perf_counter()
    env = dict(os.environ, **stage.env)
    subprocess.run(command, cwd=cwd, env=env, check=True)
    if stage.after is not None:
        stage.after()
    seconds = time.perf_counter() - start
    print(f'[{stage.name}] done in {seconds:.0f}s', flush=True)
    return seconds


def run_stages(stages: List[Stage], cwd: str) -> None:
    for stage in stages:
        run_stage(stage, cwd)
