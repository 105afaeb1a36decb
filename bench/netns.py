"""The benchmark's own network namespaces: unique names per run, removal on any exit, stale-run sweeping,
and reading the size of what is loaded in one (nft -j list).

Names are ``gwb<pid>-<what>`` (lab prefixes ``gwb<pid><letter>``), so concurrent runs never touch each
other's namespaces, and namespaces of a dead run can be recognised and removed.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from guestwall.lab.netns import create_netns, end_processes, list_netns, netns_pids, remove_netns

RUN = f"gwb{os.getpid()}"
_STALE = re.compile(r"^gwb(\d+)[a-z-]")


def exit_on_sigterm() -> None:
    """Make SIGTERM end this process through its clean-up (``finally`` blocks: namespaces, daemons, files).

    Only in this process: pyroute2 forks helpers and stops them with SIGTERM; a child that unwound our stack
    would run our clean-up and remove the namespaces under the parent's feet."""
    main_pid = os.getpid()

    def on_sigterm(*_: object) -> None:
        if os.getpid() == main_pid:
            sys.exit(143)
        os._exit(143)

    signal.signal(signal.SIGTERM, on_sigterm)


def ns_name(what: str) -> str:
    return f"{RUN}-{what}"


def sweep_stale() -> list[str]:
    """Remove namespaces left by benchmark runs whose process is gone (by pid in the name)."""
    removed = []
    for name in list_netns():
        m = _STALE.match(name)
        if m is None or int(m.group(1)) == os.getpid() or os.path.exists(f"/proc/{m.group(1)}"):
            continue
        end_processes(netns_pids(name))
        if remove_netns(name):
            removed.append(name)
    return removed


@contextlib.contextmanager
def scratch_netns(what: str) -> Iterator[str]:
    """A new empty namespace for the block; its processes are ended and it is removed however it ends."""
    name = ns_name(what)
    if name in list_netns():
        remove_netns(name)
    create_netns(name)
    try:
        yield name
    finally:
        end_processes(netns_pids(name))
        remove_netns(name)


def veth_pairs(netns: str, names: Iterable[str]) -> None:
    """A veth pair per name in ``netns`` (``NAME`` and ``NAMEp``), never up: real devices for libvirt to
    bind, with no traffic."""
    for name in names:
        subprocess.run(
            ["ip", "-n", netns, "link", "add", name, "type", "veth", "peer", "name", f"{name}p"],
            check=True,
            capture_output=True,
        )


def nft(netns: str, args: list[str], stdin: str | None = None, timeout: float = 300.0) -> str:
    """Run the nft command inside ``netns``; raise with nft's message on failure."""
    proc = subprocess.run(
        ["ip", "netns", "exec", netns, "nft", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"nft {' '.join(args)} in {netns}: {proc.stderr.strip()[:500]}")
    return proc.stdout


def nft_file(netns: str, text: str, path: str, timeout: float = 300.0) -> None:
    """``nft -f FILE`` inside ``netns`` (how a per-port tool loads its rules)."""
    with open(path, "w") as f:
        f.write(text)
    nft(netns, ["-f", path], timeout=timeout)


@dataclass
class KernelSize:
    tables: int = 0
    chains: int = 0
    rules: int = 0
    sets: int = 0  # sets and maps
    elements: int = 0  # elements of all sets and maps
    listed_lines: int = 0  # lines of ``nft list ruleset`` (what an operator reads)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def kernel_size(netns: str, tables: list[str] | None = None, lines: bool = True) -> KernelSize:
    """Count what is loaded in ``netns``: the given tables (``"bridge guestwall"``) or the whole ruleset;
    with ``lines`` also the length of the text listing (a second listing)."""
    targets = [f"table {t}" for t in tables] if tables else ["ruleset"]
    size = KernelSize()
    for target in targets:
        listing: dict[str, Any] = json.loads(
            nft(netns, ["-j", "list", *target.split()]) or '{"nftables": []}'
        )
        for obj in listing.get("nftables", []):
            if "table" in obj:
                size.tables += 1
            elif "chain" in obj:
                size.chains += 1
            elif "rule" in obj:
                size.rules += 1
            elif "set" in obj or "map" in obj:
                size.sets += 1
                size.elements += len((obj.get("set") or obj["map"]).get("elem", ()))
        if lines:
            size.listed_lines += len(nft(netns, ["list", *target.split()]).splitlines())
    return size


def free_backend(backend: object) -> None:
    """Release a libnftables backend's contexts: their netlink sockets would keep a removed namespace (and
    everything loaded in it) alive until the process ends. guestwall's Backend has no close() yet."""
    lib = getattr(backend, "_lib", None)
    if lib is None:
        return
    for attr in ("_ctx", "_json_ctx"):
        ctx = getattr(backend, attr, None)
        if ctx:
            lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
            lib.nft_ctx_free(ctx)
            setattr(backend, attr, None)
