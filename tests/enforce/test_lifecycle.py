"""Changing what is bound: a filter redefined while bound takes effect on every bound port in one
transaction; deleting a binding removes that port's rules and nothing else."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest
from gw import Guestwall, binding_xml

from guestwall.compile.names import port_mark
from guestwall.config import HostConfig
from guestwall.dataplane.backend import open_backend
from guestwall.engine import Engine
from guestwall.lab import Lab
from guestwall.lab.traffic import frames, probe, tcp_connect, tcp_server
from guestwall.nft.commands import Listing, Transaction
from guestwall.services.filters import define_filter
from guestwall.store import open_store
from netns_fixtures import needs_netns

pytestmark = needs_netns

NO_SPAMMING = """<filter name='no-spamming' chain='root'>
  <rule action='drop' direction='out' priority='500'><tcp dstportstart='25'/></rule>
</filter>
"""


class CountingBackend:
    def __init__(self, netns: str) -> None:
        self.inner = open_backend(netns)
        self.netns = netns
        self.transactions: list[str] = []

    def run(self, tx: Transaction) -> None:
        self.transactions.append(tx.text())
        self.inner.run(tx)

    def list_json(self, what: Listing, terse: bool = False):  # type: ignore[no-untyped-def]
        return self.inner.list_json(what, terse)


@pytest.fixture
def gw(lab_factory, tmp_path) -> Iterator[Guestwall]:  # type: ignore[no-untyped-def]
    lab: Lab = lab_factory(guests=4)
    g = Guestwall(lab, tmp_path / "gw.db", tmp_path)
    g.bind(list(lab.guests), "clean-traffic")
    yield g


def test_redefine_while_bound_applies_to_every_port_in_one_transaction(gw: Guestwall) -> None:
    lab = gw.lab
    gw.define(NO_SPAMMING)
    for g in lab.guests[1:]:
        with tcp_server(lab, g.name, 25):
            assert tcp_connect(lab, lab.guests[0].name, g.ipv4, 25)
    clean = gw.run("nwfilter-dumpxml", "clean-traffic").stdout.strip()
    redefined = clean.replace("</filter>", "  <filterref filter='no-spamming'/>\n</filter>")
    store = open_store(gw.url)
    backend = CountingBackend(lab.host_netns)
    result = define_filter(store, redefined, engine=Engine(backend, HostConfig()))
    store.close()
    assert result.changed
    assert len(backend.transactions) == 1
    tx = backend.transactions[0]
    assert "element" not in tx  # the shared chains change; no per-port data does
    for sender in lab.guests:
        target = lab.guests[0] if sender is not lab.guests[0] else lab.guests[1]
        with tcp_server(lab, target.name, 25):
            assert not tcp_connect(lab, sender.name, target.ipv4, 25)
        with tcp_server(lab, target.name, 26):
            assert tcp_connect(lab, sender.name, target.ipv4, 26)


def _elements(gw: Guestwall) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for family in ("bridge", "inet"):
        listing = json.loads(gw.nft("-j", "list", "table", family, "guestwall"))
        for obj in listing["nftables"]:
            s = obj.get("set") or obj.get("map")
            if s:
                out[f"{family} {s['name']}"] = {json.dumps(e, sort_keys=True) for e in s.get("elem", [])}
    return out


def test_binding_delete_removes_that_port_only(gw: Guestwall) -> None:
    lab = gw.lab
    victim = lab.guests[-1]
    before = _elements(gw)
    chains_before = gw.nft("list", "chains")
    gw.run("nwfilter-binding-delete", victim.portdev)
    after = _elements(gw)
    mark = next(json.loads(e)[1] for e in before["bridge portmark"] if victim.portdev in e)
    keys = (f'"{victim.portdev}"', str(mark))  # the bridge table keys ports by name, inet by mark
    for name, elems in before.items():
        removed = elems - after.get(name, set())
        assert after[name] <= elems, name
        assert removed, name
        assert all(any(k in e for k in keys) for e in removed), (name, removed)
        assert not any(any(k in e for k in keys) for e in after[name]), name
    assert gw.nft("list", "chains") == chains_before  # shared chains stay: others still use them
    spoof = frames.udp4(victim.mac, lab.guests[0].mac, ip_src=lab.guests[1].ipv4, ip_dst=lab.guests[0].ipv4)
    assert len(probe(lab, victim.name, [spoof], receivers=[lab.guests[0].name])[lab.guests[0].name]) == 1
    other = lab.guests[1]
    spoof2 = frames.udp4(other.mac, lab.guests[0].mac, ip_src=victim.ipv4, ip_dst=lab.guests[0].ipv4)
    assert probe(lab, other.name, [spoof2], receivers=[lab.guests[0].name])[lab.guests[0].name] == []


def test_adding_a_port_touches_only_its_elements_and_repairs_a_flushed_kernel(gw: Guestwall) -> None:
    lab = gw.lab
    extra = gw.write("extra.xml", binding_xml(lab.guests[0], "clean-traffic").replace(lab.guests[0].portdev, "vnet99"))
    before = _elements(gw)
    store = open_store(gw.url)
    backend = CountingBackend(lab.host_netns)
    try:
        from pathlib import Path

        from guestwall.services.bindings import create_binding

        record, result = create_binding(store, Path(extra).read_text(), Engine(backend, HostConfig()))
        mark = str(port_mark(record.port_id))
        added = {name: elems - before.get(name, set()) for name, elems in _elements(gw).items()}
        assert all(all("vnet99" in e or mark in e for e in new) for new in added.values()), added
        assert "delete" not in result.transaction.text()
        # someone flushes the host's ruleset: the next binding change brings everything back
        subprocess.run(["ip", "netns", "exec", lab.host_netns, "nft", "flush", "ruleset"], check=True)
        from guestwall.services.bindings import delete_binding

        delete_binding(store, "vnet99", Engine(backend, HostConfig()))
    finally:
        store.close()
    assert _elements(gw) == before
    spoof = frames.udp4(lab.guests[1].mac, lab.guests[0].mac, ip_src=lab.guests[2].ipv4, ip_dst=lab.guests[0].ipv4)
    assert probe(lab, lab.guests[1].name, [spoof], receivers=[lab.guests[0].name])[lab.guests[0].name] == []


def test_a_warning_when_bridged_packets_skip_layer3_rules(gw: Guestwall) -> None:
    from guestwall.dataplane.probe import bridged_l3_warning

    assert bridged_l3_warning(gw.lab.host_netns) is None
    subprocess.run(
        ["ip", "netns", "exec", gw.lab.host_netns, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=0"],
        check=True,
    )
    warning = bridged_l3_warning(gw.lab.host_netns)
    assert warning is not None and "bridge-nf-call-iptables" in warning
    assert "warning: net.bridge.bridge-nf-call-iptables" in gw.run("apply").stderr
