"""The kernel lock and the result of applying; the applying itself is ``engine.Engine``'s (the one way in).

One host-wide lock (per network namespace) serialises read-diff-apply, so concurrent commands and the
agent never interleave; a failed transaction changes nothing (nftables batches are atomic).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from guestwall.compile.ruleset import Ruleset
from guestwall.dataplane.backend import Backend
from guestwall.dataplane.diff import Transaction, diff
from guestwall.dataplane.netns import namespace_id
from guestwall.dataplane.state import read_state
from guestwall.errors import DataplaneError

LOCK_DIR = os.environ.get("GUESTWALL_RUN_DIR", "/run/guestwall")


@dataclass(frozen=True)
class ApplyResult:
    transaction: Transaction
    read_seconds: float
    apply_seconds: float
    tampered: tuple[tuple[str, str], ...] = ()  # (family, chain) found edited in place and refilled
    incremental: bool = False  # built from the change alone (else: the whole desired state, diffed)

    @property
    def changed(self) -> bool:
        return bool(self.transaction)


@contextmanager
def kernel_lock(netns: str | None) -> Iterator[None]:
    """An exclusive lock for one namespace's guestwall tables, shared by CLI processes and the agent."""
    os.makedirs(LOCK_DIR, exist_ok=True)
    fd = os.open(os.path.join(LOCK_DIR, _lock_name(netns)), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _lock_name(netns: str | None) -> str:
    """Named after the namespace itself (its inode), not how it was reached: ``--netns X`` and a command
    run through ``ip netns exec X`` take the same lock."""
    try:
        return f"kernel-netns-{namespace_id(netns)}.lock"
    except (OSError, DataplaneError):
        return f"kernel-{(netns or 'default').replace('/', '_')}.lock"


def plan(desired: Ruleset, backend: Backend) -> Transaction:
    """What making the kernel equal to ``desired`` would run now (without running it)."""
    return diff(desired, read_state(backend, families=tuple(desired.tables)))
