"""What the benches' entry points and child processes share: the root check, a scratch work directory
with its own kernel-lock directory, a log stamped with the elapsed time, and stopping a child that still
runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

Log = Callable[[str], None]


def is_root() -> bool:
    """Whether the bench can run (it creates network namespaces); says why not on stderr."""
    if os.geteuid() == 0:
        return True
    print("the benchmark needs root: it creates network namespaces", file=sys.stderr)
    return False


def elapsed_log() -> Log:
    """A log to stderr, each line stamped with the seconds since the log was made."""
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {message}", file=sys.stderr, flush=True)

    return log


@contextmanager
def work_dir(prefix: str) -> Iterator[Path]:
    """A scratch directory, removed afterwards; the run's kernel locks live in it, not the host's."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["GUESTWALL_RUN_DIR"] = str(work / "run")
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def stop(proc: subprocess.Popen[Any], grace: float = 30.0) -> None:
    """A child that still runs is asked to end (it cleans up and goes first), killed after ``grace`` s."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
