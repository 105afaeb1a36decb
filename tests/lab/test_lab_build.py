"""Building and removing labs in real namespaces: layout, idempotent teardown, stale cleanup, failures."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

import pytest

from guestwall.errors import LabError
from guestwall.lab import Lab, LabSpec, lab_down, lab_status, lab_up, run_in_netns
from guestwall.lab import build as build_module
from guestwall.lab.netns import create_netns, list_netns, netns_pids, read_sysctl
from netns_fixtures import needs_netns, new_prefix, run_in_host
from netns_fixtures import sweep_stale_labs as _sweep_once

pytestmark = needs_netns


def _json(ns: str, *argv: str) -> list[dict[str, Any]]:
    out = run_in_netns(ns, ["ip", "-j", *argv], check=True).stdout
    return json.loads(out) if out.strip() else []


def _root_links() -> list[str]:
    with open("/proc/net/dev") as f:
        return sorted(line.split(":")[0].strip() for line in f.readlines()[2:])


def test_layout_of_host_namespace(lab: Lab) -> None:
    links = {link["ifname"]: link for link in _json(lab.host_netns, "-d", "link", "show")}
    br = links["br0"]
    assert br["address"] == lab.bridge_mac and "UP" in br["flags"]
    assert br["linkinfo"]["info_data"]["stp_state"] == 0
    addrs = {a["local"] for a in _json(lab.host_netns, "addr", "show", "dev", "br0")[0]["addr_info"]}
    assert {"10.77.0.1", "fd77::1"} <= addrs
    for g in lab.guests:
        port = links[g.portdev]
        assert port["master"] == "br0" and "UP" in port["flags"] and port["ifalias"] == g.name
    assert read_sysctl(lab.host_netns, "net.bridge.bridge-nf-call-iptables") == "1"
    assert read_sysctl(lab.host_netns, "net.bridge.bridge-nf-call-ip6tables") == "1"


def test_layout_of_guest_namespaces(lab: Lab) -> None:
    for g in lab.guests:
        eth = _json(g.netns, "addr", "show", "dev", "eth0")[0]
        assert eth["address"] == g.mac and "UP" in eth["flags"]
        addrs = {(a["local"], a["prefixlen"], a.get("tentative", False)) for a in eth["addr_info"]}
        assert {(g.ipv4, 24, False), (g.ipv6, 64, False)} <= addrs
        # link-local kept, and usable at once (no DAD)
        assert any(a["scope"] == "link" and not a.get("tentative") for a in eth["addr_info"])
        lo = _json(g.netns, "link", "show", "dev", "lo")[0]
        assert "UP" in lo["flags"]
        assert _json(g.netns, "route", "show", "default")[0]["gateway"] == "10.77.0.1"
        assert _json(g.netns, "-6", "route", "show", "default")[0]["gateway"] == "fd77::1"


def test_root_namespace_is_untouched(lab_factory: Callable[..., Lab]) -> None:
    before = _root_links()
    built = lab_factory(3)
    assert _root_links() == before
    lab_down(built.prefix)
    assert _root_links() == before


def test_down_is_idempotent_and_complete() -> None:
    prefix = new_prefix("d")
    try:
        lab = lab_up(LabSpec(prefix=prefix, guests=2))
        assert list_netns(prefix) == sorted(lab.namespaces())
        assert sorted(lab_down(prefix)) == sorted(lab.namespaces())
        assert list_netns(prefix) == []
        assert lab_down(prefix) == []
        assert lab_status(prefix) is None
    finally:
        lab_down(prefix)


def test_up_refuses_an_existing_lab_unless_replacing(fresh_lab: Lab) -> None:
    with pytest.raises(LabError, match="already exists"):
        lab_up(fresh_lab.spec)
    again = lab_up(LabSpec(prefix=fresh_lab.prefix, guests=2), replace=True)
    assert [g.name for g in again.guests] == ["alice", "bob"]
    assert list_netns(fresh_lab.prefix) == sorted(again.namespaces())


def test_status_reads_the_lab_back(lab: Lab) -> None:
    assert lab_status(lab.prefix) == lab


def test_status_reports_an_incomplete_lab(fresh_lab: Lab) -> None:
    from pyroute2 import netns as pr_netns

    pr_netns.remove(fresh_lab["bob"].netns)  # its veth pair dies with it
    with pytest.raises(LabError, match=f"lab {fresh_lab.prefix} is incomplete: ports vnet0, vnet2"):
        lab_status(fresh_lab.prefix)
    pr_netns.remove(fresh_lab.host_netns)
    with pytest.raises(LabError, match=f"namespace {fresh_lab.host_netns} is missing"):
        lab_status(fresh_lab.prefix)


def test_failed_build_leaves_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = new_prefix("e")
    real = build_module._add_guest

    def failing(lab: Lab, host: object, br: int, guest: object) -> None:
        if getattr(guest, "name", "") == "carol":
            raise LabError("injected failure")
        real(lab, host, br, guest)  # type: ignore[arg-type]

    monkeypatch.setattr(build_module, "_add_guest", failing)
    try:
        with pytest.raises(LabError, match="injected failure"):
            lab_up(LabSpec(prefix=prefix, guests=4))
        assert list_netns(prefix) == []
    finally:
        lab_down(prefix)


def test_stale_labs_of_dead_runs_are_swept() -> None:
    dead_pid = 4_000_000  # above pid_max's usual ceiling (4194304 is the max; nothing runs this high here)
    while True:
        try:
            os.kill(dead_pid, 0)
        except ProcessLookupError:
            break
        dead_pid += 1
    stale = f"gwt{dead_pid}m1"
    live = new_prefix("s")  # ours: this process is alive, so the sweep must keep it
    try:
        create_netns(f"{stale}-host")
        create_netns(f"{stale}-alice")
        create_netns(f"{live}-host")
        _sweep_once.cache_clear()
        assert stale in _sweep_once()
        assert list_netns(stale) == []
        assert list_netns(live) == [f"{live}-host"]
    finally:
        lab_down(stale)
        lab_down(live)


def test_down_ends_processes_left_in_the_lab(fresh_lab: Lab) -> None:
    from guestwall.lab import popen_in_netns

    proc = popen_in_netns(fresh_lab["alice"].netns, ["sleep", "60"])
    try:
        deadline = time.monotonic() + 5
        while not netns_pids(fresh_lab["alice"].netns) and time.monotonic() < deadline:
            time.sleep(0.01)  # until ip netns exec has entered the namespace
        assert netns_pids(fresh_lab["alice"].netns) == [proc.pid]
        lab_down(fresh_lab.prefix)
        assert proc.wait(5) is not None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_host_helper_runs_in_the_host_namespace(lab: Lab) -> None:
    names = run_in_host(lab, "ip", "-o", "link", "show").stdout
    assert "br0" in names and "vnet0" in names
    with pytest.raises(LabError, match="failed with status"):
        run_in_host(lab, "ip", "link", "show", "nosuchdev")
