"""A port that comes sends only the group chains the kernel lacks or holds otherwise: what the kernel holds
is read inside the lock (chains and their rules' digests over netlink, dataplane.nlchains), never assumed
from the store. A group chain flushed, deleted or refilled by someone else is restored by the next port's
transaction, and the kernel is then exactly what the store says."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from guestwall.compile import names
from guestwall.config import HostConfig
from guestwall.dataplane.backend import LibNftables, open_backend
from guestwall.dataplane.state import read_state, read_terse
from guestwall.engine import Engine
from guestwall.nft import ir
from guestwall.nft.commands import Chain, ChainRule, Table, Transaction, add, delete, flush
from guestwall.services.bindings import create_binding, create_bindings
from guestwall.services.filters import define_filter
from guestwall.store import Store, open_store
from netns_fixtures import needs_netns, new_prefix

pytestmark = needs_netns

WEB = """<filter name='web' chain='root'>
  <filterref filter='clean-traffic'/>
  <rule action='accept' direction='in' priority='500'><tcp dstportstart='22'/></rule>
  <rule action='drop' direction='in' priority='900'><tcp/></rule>
</filter>
"""


def binding(n: int) -> str:
    return f"""<filterbinding>
  <owner><name>vm{n}</name><uuid>00000000-0000-4000-8000-{n:012d}</uuid></owner>
  <portdev name='vnet{n}'/><mac address='52:54:00:00:00:{n:02x}'/>
  <filterref filter='web'><parameter name='IP' value='10.0.0.{n}'/></filterref>
</filterbinding>
"""


@pytest.fixture
def bound(tmp_path: Path) -> Iterator[tuple[Store, LibNftables, Engine]]:
    from guestwall.lab.netns import create_netns, remove_netns

    ns = f"{new_prefix('k')}-chn"
    create_netns(ns)
    store = open_store(f"sqlite:///{tmp_path}/gw.db")
    backend = open_backend(ns)
    assert isinstance(backend, LibNftables)
    try:
        engine = Engine(backend, HostConfig())
        define_filter(store, WEB, engine=engine)
        create_bindings(store, [binding(1), binding(2)], engine)
        yield store, backend, engine
    finally:
        backend.close()
        store.close()
        remove_netns(ns)


def _in_sync(store: Store, engine: Engine) -> bool:
    with store.read() as reader:
        return not engine.plan(reader)


def test_the_netlink_listing_equals_libnftables_terse_listing(
    bound: tuple[Store, LibNftables, Engine],
) -> None:
    _, backend, _ = bound
    listed = read_state(backend, terse=True)
    dumped = read_terse(backend)
    assert sorted(dumped) == sorted(listed) == sorted(names.FAMILIES)
    for family, table in listed.items():
        assert dumped[family].chains == table.chains  # names, hooks, priorities, policies, rule digests
        assert any(c.decl.base is not None for c in table.chains.values())
        assert {n: s.decl for n, s in dumped[family].sets.items()} == {
            n: s.decl for n, s in table.sets.items()
        }


def test_a_port_add_leaves_equal_chains_alone_and_repairs_tampered_ones(
    bound: tuple[Store, LibNftables, Engine],
) -> None:
    store, backend, engine = bound
    state = read_state(backend, terse=True)
    bridge, inet = state[names.BRIDGE].chains, state[names.INET].chains
    root = next(n for n in bridge if n.startswith("l2o.web") and ".root." in n and n.count(".") == 3)
    sub = next(n for n in bridge if n.startswith("l2o.web") and ".ipv4-ip." in n)
    l3 = next(n for n in inet if n.startswith("l3i.web"))

    # untouched kernel: the port brings its elements and no chain at all
    _, result = create_binding(store, binding(3), engine)
    assert result.incremental
    assert "chain" not in result.transaction.text()
    assert _in_sync(store, engine)

    # someone empties the group's root chain, deletes a chain it jumps to, and refills an inet chain
    # with an accept-all rule
    b, i = Table(names.BRIDGE, names.TABLE), Table(names.INET, names.TABLE)
    accept = ir.Rule((ir.Verdict(ir.VerdictKind.ACCEPT),))
    backend.run(
        Transaction(
            (
                flush(Chain(b, root)),
                flush(Chain(b, sub)),
                delete(Chain(b, sub)),
                flush(Chain(i, l3)),
                add(ChainRule(Chain(i, l3), accept)),
            )
        )
    )
    assert not _in_sync(store, engine)

    _, result = create_binding(store, binding(4), engine)
    assert result.incremental
    text = result.transaction.text()
    assert f"add chain bridge guestwall {sub}\n" in text
    assert f"flush chain bridge guestwall {root}\n" in text
    assert f"flush chain inet guestwall {l3}\n" in text
    assert _in_sync(store, engine)  # the kernel is what the store says again
    # and only the chains that differed were written
    written = {line.split()[4] for line in text.splitlines() if line.startswith(("add chain", "flush chain"))}
    assert written == {root, sub, l3}
