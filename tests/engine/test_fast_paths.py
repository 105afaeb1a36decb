"""The shortcuts taken for speed keep their meaning: set declarations read in two listings, text remembered
by value (refusals are not), the ownership check of a bulk create made with one query."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest

from guestwall.compile import names
from guestwall.config import HostConfig
from guestwall.dataplane.backend import NoKernel, RecordingBackend
from guestwall.dataplane.state import read_sets
from guestwall.engine import Engine
from guestwall.errors import RenderError
from guestwall.model.ifname import ifname_problem
from guestwall.nft import ir, render
from guestwall.nft.datatypes import DataType
from guestwall.services.bindings import create_bindings
from guestwall.services.filters import define_filter
from guestwall.services.ownership import OwnedError
from guestwall.store import open_store


def _decl(kind: str, family: str, table: str, name: str, **more: object) -> dict[str, object]:
    return {kind: {"family": family, "name": name, "table": table, "type": "ifname", "handle": 1, **more}}


def test_read_sets_keeps_our_tables_of_our_families_only() -> None:
    sets = [
        _decl("set", "bridge", names.TABLE, "v.ether.1"),
        _decl("set", "bridge", "someone-else", "theirs"),
        _decl("set", "netdev", names.TABLE, "not-a-family-of-ours"),
        _decl("set", "inet", names.TABLE, "ipset.a.v4", type="ipv4_addr", flags=["interval"]),
    ]
    maps = [_decl("map", "bridge", names.TABLE, "l2out", map="verdict")]
    backend = RecordingBackend({"sets": {"nftables": sets}, "maps": {"nftables": maps}})
    tables = read_sets(backend)
    assert sorted(tables) == ["bridge", "inet"]
    assert sorted(tables["bridge"].sets) == ["l2out", "v.ether.1"]
    assert tables["bridge"].sets["l2out"].decl.map_type is DataType.VERDICT
    assert tables["inet"].sets["ipset.a.v4"].decl.flags == ("interval",)
    assert read_sets(RecordingBackend()) == {}  # nothing listed: no table of ours


def test_a_refused_name_is_refused_every_time() -> None:
    bad = 'vnet"0'
    assert ifname_problem(bad) is not None
    for _ in range(2):  # remembered text must not remember a refusal away
        with pytest.raises(Exception, match="cannot be matched"):
            render.component(bad, DataType.IFNAME)
    hostile = ir.Rule((ir.Verdict(ir.VerdictKind.ACCEPT),), 'x" ; flush ruleset')
    for _ in range(2):
        with pytest.raises(RenderError):
            render.rule(hostile)


def _binding(n: int, filter_name: str = "f") -> str:
    return f"""<filterbinding>
  <owner><name>vm{n}</name><uuid>00000000-0000-4000-8000-{n:012d}</uuid></owner>
  <portdev name='tap{n}'/><mac address='52:54:00:00:02:{n % 256:02x}'/>
  <filterref filter='{filter_name}'/>
</filterbinding>"""


@pytest.mark.parametrize("count", [2, 40])  # one look-up each, or every stored binding in one query
def test_bulk_create_refuses_a_cloud_ports_binding(tmp_path: Path, count: int) -> None:
    store = open_store(f"sqlite:///{tmp_path}/gw.db")
    try:
        define_filter(store, "<filter name='f' chain='root'><rule action='accept' direction='in'/></filter>")
        with store.write() as writer:  # as the cloud layer stores its port's filter and binding
            cloud_filter = "<filter name='gw-port-tap1' chain='root'><filterref filter='f'/></filter>"
            writer.put_filter(UUID(int=7), "gw-port-tap1", cloud_filter)
            writer.add_binding("tap1", "gw-port-tap1", _binding(1, "gw-port-tap1"))
        engine = Engine(NoKernel(), HostConfig())
        with pytest.raises(OwnedError, match="tap1"):
            create_bindings(store, [_binding(n) for n in range(count, 0, -1)], engine)
        with store.read() as reader:
            assert [r.portdev for r in reader.bindings()] == ["tap1"]  # nothing was added
        records, _ = create_bindings(store, [_binding(n) for n in range(2, count + 2)], engine)
        assert len(records) == count
    finally:
        store.close()
