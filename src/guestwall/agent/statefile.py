"""What a running agent tells the outside: its lock file (held for its life, holding its pid) and a small
JSON file with when it started, last converged and last repaired drift. ``guestwall status`` reads both.

The lock, not the JSON file, says whether an agent runs: a killed agent leaves its file behind, but the
kernel releases its lock.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime

from guestwall.dataplane.apply import LOCK_DIR
from guestwall.dataplane.netns import namespace_id


def lock_path(netns: str | None) -> str:
    return os.path.join(LOCK_DIR, f"agent-netns-{namespace_id(netns)}.lock")


def state_path(netns: str | None) -> str:
    return os.path.join(LOCK_DIR, f"agent-netns-{namespace_id(netns)}.json")


@dataclass(frozen=True)
class AgentInfo:
    running: bool
    pid: int | None = None
    started: str | None = None
    last_converge: str | None = None
    last_repair: str | None = None  # time and what it changed
    last_error: str | None = None


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_state(netns: str | None, state: dict[str, object]) -> None:
    """Replace the JSON file atomically (a reader never sees half of it); errors are the caller's to log."""
    path = state_path(netns)
    scratch = f"{path}.{os.getpid()}"
    with open(scratch, "w", encoding="utf-8") as out:
        json.dump(state, out)
    os.replace(scratch, path)


def read_agent(netns: str | None) -> AgentInfo:
    """Whether an agent holds the namespace's lock, and what its file says."""
    try:
        fd = os.open(lock_path(netns), os.O_RDONLY)
    except OSError:
        return AgentInfo(running=False)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 32, 0).decode(errors="replace").strip()
            running = True
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return AgentInfo(running=False)
    finally:
        os.close(fd)
    try:
        with open(state_path(netns), encoding="utf-8") as f:
            state = json.load(f)
    except (OSError, ValueError):
        state = {}
    pid = int(text) if text.isdigit() else None

    def field(key: str) -> str | None:
        value = state.get(key) if state.get("pid") == pid else None
        return str(value) if value is not None else None

    return AgentInfo(
        running, pid, field("started"), field("last_converge"), field("last_repair"), field("last_error")
    )
