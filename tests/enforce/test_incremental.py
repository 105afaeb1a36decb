"""Filter edits and address-set changes take the incremental path: only changed chains (or set elements)
are rewritten, and the kernel ends exactly where a full apply would put it."""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import ip_network

import pytest
from gw import Guestwall

from guestwall.config import HostConfig
from guestwall.dataplane.apply import ApplyResult
from guestwall.dataplane.backend import open_backend
from guestwall.engine import Change, Engine, filter_edit
from guestwall.errors import InstantiationError
from guestwall.lab import Lab
from guestwall.lab.traffic import tcp_connect, tcp_server
from guestwall.model import AddressSet
from guestwall.nwfilter import parse_filter
from guestwall.services.filters import load_filters
from guestwall.store import Store, open_store
from netns_fixtures import needs_netns

pytestmark = needs_netns

WEB = """<filter name='web' chain='root'>
  <filterref filter='clean-traffic'/>
  <rule action='accept' direction='in' priority='500'><tcp dstportstart='22'/></rule>
  <rule action='accept' direction='in' priority='500'><tcp ipset='admins' ipsetflags='src'/></rule>
  <rule action='drop' direction='in' priority='900'><tcp/></rule>
</filter>
"""


@pytest.fixture
def setup(lab_factory, tmp_path) -> Iterator[tuple[Guestwall, Store]]:  # type: ignore[no-untyped-def]
    lab: Lab = lab_factory(guests=3)
    g = Guestwall(lab, tmp_path / "gw.db", tmp_path)
    store = open_store(g.url)
    with store.write() as writer:
        writer.put_address_set("admins", (ip_network("10.99.0.0/24"),))
    g.define(WEB)
    g.bind([lab["bob"]], "web")  # web's drop rules apply both ways (libvirt): only bob serves
    g.bind([lab["alice"], lab["carol"]], "clean-traffic")
    yield g, store
    store.close()


def engine(g: Guestwall) -> Engine:
    return Engine(open_backend(g.lab.host_netns), HostConfig())


def edit(store: Store, g: Guestwall, xml: str) -> ApplyResult:
    """Redefine through the engine (as the CLI does)."""
    new = parse_filter(xml)
    with store.write() as writer:
        old = load_filters(writer)
        writer.put_filter(old[new.name].uuid, new.name, xml)  # type: ignore[arg-type]
        return engine(g).apply(writer, filter_edit(old, old | {new.name: new}))


def settled(store: Store, g: Guestwall) -> bool:
    with store.read() as reader:
        return not engine(g).plan(reader)


def test_an_edit_rewrites_only_the_changed_chains(setup: tuple[Guestwall, Store]) -> None:
    g, store = setup
    lab = g.lab
    assert settled(store, g)
    with tcp_server(lab, "bob", 80):
        assert not tcp_connect(lab, "alice", lab["bob"].ipv4, 80)
    result = edit(store, g, WEB.replace("dstportstart='22'", "dstportstart='80'"))
    assert result.incremental
    tx = result.transaction.text()
    assert "element" not in tx and "l2o." not in tx  # only the layer-3 chains changed
    assert settled(store, g)
    with tcp_server(lab, "bob", 80):
        assert tcp_connect(lab, "alice", lab["bob"].ipv4, 80)


def test_an_edit_needing_new_per_port_values_falls_back(setup: tuple[Guestwall, Store]) -> None:
    g, store = setup
    xml = WEB.replace("<tcp dstportstart='22'/>", "<tcp dstportstart='22' srcipaddr='$IP' srcipmask='24'/>")
    assert not edit(store, g, xml).incremental
    assert settled(store, g)


def test_an_edit_that_cannot_be_instantiated_names_the_binding(setup: tuple[Guestwall, Store]) -> None:
    g, store = setup
    with pytest.raises(InstantiationError, match=r"binding vnet1: .*NOPE"):
        edit(store, g, WEB.replace("dstportstart='22'", "dstportstart='$NOPE'"))
    assert settled(store, g)  # nothing was committed, nothing changed in the kernel


def test_an_address_set_change_is_an_element_delta(setup: tuple[Guestwall, Store]) -> None:
    g, store = setup
    lab = g.lab
    with store.write() as writer:
        writer.put_address_set("admins", (ip_network(f"{lab['alice'].ipv4}/32"),))
        result = engine(g).apply(writer, Change(sets=frozenset({"admins"})))
    assert result.incremental
    assert set(result.transaction.counts()) == {"delete element", "add element"}
    assert settled(store, g)
    with tcp_server(lab, "bob", 5000):
        assert tcp_connect(lab, "alice", lab["bob"].ipv4, 5000)
        assert not tcp_connect(lab, "carol", lab["bob"].ipv4, 5000)
    assert AddressSet("admins")  # the model's empty set is valid too
