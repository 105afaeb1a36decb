"""Pytest fixtures for tests that prove enforcement with real frames in a namespace lab.

Make them available by importing them into your directory's ``conftest.py`` (``tests/`` is on sys.path
through the root conftest), then mark namespace tests with ``needs_netns``::

    # tests/<area>/conftest.py
    from netns_fixtures import fresh_lab, host_run, lab, lab_factory, lab_module  # noqa: F401

    # tests/<area>/test_<area>_enforce.py
    from netns_fixtures import needs_netns, run_in_host
    from guestwall.lab.traffic import frames, probe
    pytestmark = needs_netns

    def test_spoofed_arp_is_dropped(lab, host_run):
        host_run("nft", "-f", "-", input=ruleset)          # runs in <prefix>-host only
        eve, bob = lab["eve"], lab["bob"]
        got = probe(lab, "eve", [frames.arp(eve.mac, op="is-at", psrc=bob.ipv4, pdst=lab["alice"].ipv4)])
        assert got["alice"] == []

``lab`` is a 5-guest lab shared by the module and reset after every test (nftables rulesets of all lab
namespaces flushed, dynamic FDB entries and neighbour caches cleared); ``fresh_lab`` is a new lab per test;
``lab_factory(guests=..., **spec)`` builds labs of any size. Every lab is removed however the test ends, and
labs left behind by earlier, dead test runs are swept before the first lab is built. Prefixes are
``gwt<pid><letter><n>``, so concurrent test runs never touch each other's labs.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any, TypeVar

import pytest

from guestwall.errors import LabError
from guestwall.lab import Lab, LabSpec, lab_down, lab_up, run_in_netns
from guestwall.lab.netns import create_netns, list_netns, remove_netns

RUN_PREFIX = f"gwt{os.getpid()}"
_STALE_RE = re.compile(r"^gwt(\d+)[a-z]\d+-")
_counter = itertools.count(1)

# ``pytestmark = needs_netns`` for a module, ``@netns_test`` for a single test
needs_netns = [
    pytest.mark.netns,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces"),
]
F = TypeVar("F", bound=Callable[..., Any])


def netns_test(fn: F) -> F:
    for mark in needs_netns:
        fn = mark(fn)
    return fn


@cache
def netns_unavailable() -> str | None:
    """Why namespace tests cannot run here, or None when they can (checked once per test run)."""
    if os.geteuid() != 0:
        return "needs root for network namespaces"
    probe_ns = f"{RUN_PREFIX}z0-probe"
    try:
        create_netns(probe_ns)
    except LabError as e:
        return f"network namespaces are unavailable: {e}"
    remove_netns(probe_ns)
    return None


def require_netns() -> None:
    reason = netns_unavailable()
    if reason:
        pytest.skip(reason)


def new_prefix(kind: str = "l") -> str:
    """A lab prefix unique in this test run: ``gwt<pid><kind><n>``."""
    return f"{RUN_PREFIX}{kind}{next(_counter)}"


@cache
def sweep_stale_labs() -> tuple[str, ...]:
    """Remove labs of test runs whose process is gone (once per run); returns the prefixes removed."""
    stale = set()
    for name in list_netns():
        m = _STALE_RE.match(name)
        if m and not _pid_alive(int(m.group(1))):
            stale.add(name.split("-", 1)[0])
    for prefix in sorted(stale):
        lab_down(prefix)
    return tuple(sorted(stale))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def build_lab(guests: int = 5, kind: str = "l", **spec: Any) -> Lab:
    require_netns()
    sweep_stale_labs()
    return lab_up(LabSpec(prefix=new_prefix(kind), guests=guests, **spec))


def run_in_host(
    lab: Lab, *argv: str, check: bool = True, input: str | None = None, timeout: float = 30.0
) -> subprocess.CompletedProcess[str]:
    """Run a command in the lab's host namespace (where br0 and the ports live); raises on failure if
    ``check``."""
    return run_in_netns(lab.host_netns, argv, check=check, input=input, timeout=timeout)


def reset_lab(lab: Lab) -> None:
    """Undo what a test typically changes: nftables rulesets in every lab namespace, the bridge's learned
    FDB entries, and the neighbour caches of the host namespace and the guests."""
    for ns in lab.namespaces():
        run_in_netns(ns, ["nft", "flush", "ruleset"], check=True)
        run_in_netns(ns, ["ip", "neigh", "flush", "all"], check=False)
        run_in_netns(ns, ["ip", "-6", "neigh", "flush", "all"], check=False)
    run_in_netns(lab.host_netns, ["ip", "link", "set", lab.bridge, "type", "bridge", "fdb_flush"], check=True)


@pytest.fixture(scope="module")
def lab_module() -> Iterator[Lab]:
    """A 5-guest lab for the whole test module (not reset between tests; prefer ``lab``)."""
    built = build_lab(5, "m")
    try:
        yield built
    finally:
        lab_down(built.prefix)


@pytest.fixture
def lab(lab_module: Lab) -> Iterator[Lab]:
    """The module's 5-guest lab (alice, bob, carol, dave, eve), reset after the test."""
    try:
        yield lab_module
    finally:
        reset_lab(lab_module)


@pytest.fixture
def fresh_lab() -> Iterator[Lab]:
    """A new 5-guest lab for this test only."""
    built = build_lab(5, "f")
    try:
        yield built
    finally:
        lab_down(built.prefix)


@pytest.fixture
def lab_factory() -> Iterator[Callable[..., Lab]]:
    """``make(guests=5, **LabSpec fields except prefix) -> Lab``; all labs made are removed after the test."""
    made: list[str] = []

    def make(guests: int = 5, **spec: Any) -> Lab:
        require_netns()
        sweep_stale_labs()
        prefix = new_prefix("x")
        made.append(prefix)
        return lab_up(LabSpec(prefix=prefix, guests=guests, **spec))

    try:
        yield make
    finally:
        for prefix in made:
            lab_down(prefix)


@pytest.fixture
def host_run(lab: Lab) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``host_run(*argv, check=True, input=None)``: run a command in the ``lab``'s host namespace."""

    def run(*argv: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return run_in_host(lab, *argv, check=check, input=input)

    return run
