"""Work inside a named network namespace from this process: the one place guestwall enters namespaces.

A network namespace is per thread: a short-lived thread enters the namespace with setns(2), runs a call
(opening a netlink or packet socket, an nftables context, reading /proc/sys) and ends; what it opened keeps
its namespace for life and can be used from any thread. The process itself stays where it is, so its
database connections (e.g. PostgreSQL on localhost) do too. Used by the dataplane, the agent and the lab.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from guestwall.errors import DataplaneError

T = TypeVar("T")
_CLONE_NEWNET = 0x40000000


def netns_path(netns: str) -> str:
    path = netns if netns.startswith("/") else f"/run/netns/{netns}"
    if not os.path.exists(path):
        raise DataplaneError(f"network namespace '{netns}' does not exist ({path})")
    return path


def namespace_id(netns: str | None) -> str:
    """The namespace's inode: the same whatever it is called or however it was entered."""
    path = netns_path(netns) if netns else "/proc/thread-self/ns/net"
    return str(os.stat(path).st_ino)


def call_in_netns(netns: str | None, fn: Callable[[], T]) -> T:
    """``fn()`` run in a thread inside ``netns`` (or here, when None); its exceptions propagate."""
    if netns is None:
        return fn()
    path = netns_path(netns)
    box: dict[str, Any] = {}

    def run() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(path, os.O_RDONLY)
        try:
            if libc.setns(fd, _CLONE_NEWNET) != 0:
                box["error"] = DataplaneError(
                    f"cannot enter network namespace '{netns}': {os.strerror(ctypes.get_errno())}"
                )
                return
        finally:
            os.close(fd)
        try:
            box["result"] = fn()
        except BaseException as e:  # handed to the caller's thread
            box["error"] = e

    thread = threading.Thread(target=run, name=f"netns-{netns}", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    result: T = box["result"]
    return result
