"""Named network namespaces for the lab: create, list, remove, and run Python or commands inside one.

Python callables run in a short-lived thread that entered the namespace with setns(2): network namespaces are
per thread, so sockets, netlink connections and ``/proc/sys/net`` writes made there belong to the namespace,
while the objects stay usable from the caller (a socket keeps its namespace for life). No fork, no pickling.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec, TypeVar

from pyroute2 import netns as pr_netns

from guestwall.dataplane.netns import call_in_netns
from guestwall.errors import DataplaneError, LabError

NETNS_DIR = "/run/netns"

P = ParamSpec("P")
T = TypeVar("T")


def list_netns(prefix: str | None = None) -> list[str]:
    """Named namespaces, sorted; with ``prefix``, only ``<prefix>-*`` (the lab's own)."""
    names = sorted(pr_netns.listnetns())
    if prefix is None:
        return names
    return [n for n in names if n.startswith(f"{prefix}-")]


def create_netns(name: str) -> None:
    """Create ``/run/netns/<name>`` (as ``ip netns add``); an existing one is an error."""
    if name in pr_netns.listnetns():
        raise LabError(f"network namespace {name} already exists")
    try:
        pr_netns.create(name)
    except OSError as e:
        raise LabError(f"cannot create network namespace {name}: {e}") from None


def remove_netns(name: str) -> bool:
    """Unmount and unlink ``/run/netns/<name>``; False if it was not there. The kernel frees the namespace
    (and destroys its links) once no process or socket holds it any more."""
    if name not in pr_netns.listnetns():
        return False
    try:
        pr_netns.remove(name)
    except FileNotFoundError:
        return False
    except OSError as e:
        raise LabError(f"cannot remove network namespace {name}: {e}") from None
    return True


def in_netns(name: str, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Call ``fn(*args, **kwargs)`` in a thread inside namespace ``name`` and return its result.

    Exceptions raised by ``fn`` propagate. Note that ``/proc/net`` follows the process, not the thread: read
    ``/proc/thread-self/net/...`` inside ``fn``, or use netlink.
    """
    try:
        return call_in_netns(name, lambda: fn(*args, **kwargs))
    except DataplaneError as e:  # could not enter it
        raise LabError(str(e)) from None


def netns_socket(name: str, family: int, type_: int, proto: int = 0) -> socket.socket:
    """A socket living in namespace ``name``; bind, connect, send and receive as usual, from any thread."""
    return in_netns(name, socket.socket, family, type_, proto)


def write_sysctl(name: str, key: str, value: str | int) -> None:
    """Set a ``net.*`` sysctl inside namespace ``name`` (``key`` as in sysctl(8), dots or slashes)."""
    path = "/proc/sys/" + key.replace(".", "/") if "/" not in key else f"/proc/sys/{key}"

    def write() -> None:
        with open(path, "w") as f:
            f.write(f"{value}\n")

    try:
        in_netns(name, write)
    except OSError as e:
        raise LabError(f"cannot set {key}={value} in network namespace {name}: {e}") from None


def read_sysctl(name: str, key: str) -> str:
    path = "/proc/sys/" + key.replace(".", "/") if "/" not in key else f"/proc/sys/{key}"

    def read() -> str:
        with open(path) as f:
            return f.read().strip()

    return in_netns(name, read)


def exec_argv(name: str, argv: Sequence[str]) -> list[str]:
    """The command line that runs ``argv`` inside namespace ``name``."""
    return ["ip", "netns", "exec", name, *argv]


def run_in_netns(
    name: str, argv: Sequence[str], *, timeout: float = 30.0, check: bool = False, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command inside namespace ``name`` (via ``ip netns exec``) and capture its text output."""
    try:
        proc = subprocess.run(
            exec_argv(name, argv), capture_output=True, text=True, timeout=timeout, input=input, check=False
        )
    except subprocess.TimeoutExpired:
        raise LabError(f"{' '.join(argv)} in {name} did not finish within {timeout:g} s") from None
    except OSError as e:  # ip(8) missing or not executable
        raise LabError(f"cannot run {' '.join(argv)} in {name}: {e}") from None
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise LabError(
            f"{' '.join(argv)} in {name} failed with status {proc.returncode}: {detail[-1] if detail else ''}"
        )
    return proc


def popen_in_netns(name: str, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
    """Start a command inside namespace ``name``; the caller owns the process and must stop it."""
    kwargs.setdefault("text", True)
    return subprocess.Popen(exec_argv(name, argv), **kwargs)


def stop_process(proc: subprocess.Popen[Any], grace: float = 2.0) -> None:
    """Terminate a process we started (by its pid), then kill it if it does not exit within ``grace``."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def netns_pids(*names: str) -> list[int]:
    """Processes (other than this one) whose network namespace is one of ``names``; one scan of /proc."""
    targets = set()
    for name in names:
        try:
            st = os.stat(os.path.join(NETNS_DIR, name))
        except FileNotFoundError:
            continue
        targets.add((st.st_dev, st.st_ino))
    if not targets:
        return []
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            st = os.stat(f"/proc/{entry}/ns/net")
        except OSError:
            continue
        if (st.st_dev, st.st_ino) in targets:
            pids.append(int(entry))
    return sorted(pids)


def end_processes(pids: Sequence[int], grace: float = 1.0) -> None:
    """SIGTERM the given pids, then SIGKILL those still alive after ``grace`` seconds."""
    alive = []
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
            alive.append(pid)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while alive and time.monotonic() < deadline:
        time.sleep(0.02)
        alive = [p for p in alive if _alive(p)]
    for pid in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie child of ours still "exists"; treat it as gone
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
