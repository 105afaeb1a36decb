"""Make before break (engine.stages): a change whose only effect on packets is elements runs as prepare (new
chains nobody points at), one atomic element batch, clean up (chains nobody points at any more). A change
that edits a live chain runs whole. A refused switch takes the prepared chains back: the kernel is left as
it was."""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import IPv4Address

import pytest

from guestwall.dataplane.backend import LibNftables, open_backend
from guestwall.dataplane.state import read_state
from guestwall.engine.stages import run_staged, stages
from guestwall.errors import DataplaneError
from guestwall.nft import ir
from guestwall.nft.commands import Chain, ChainRule, Elements, SetDecl, Table, Transaction, add, delete, flush
from guestwall.nft.datatypes import DataType
from netns_fixtures import netns_test, new_prefix

T = Table("bridge", "guestwall")
OLD, NEW, LIVE = Chain(T, "old"), Chain(T, "new"), Chain(T, "live")
DISPATCH = SetDecl(T, "l2out", (DataType.IFNAME,), map_type=DataType.VERDICT)
ACCEPT = ir.Rule((ir.Verdict(ir.VerdictKind.ACCEPT),))


def moving(target_set: SetDecl = DISPATCH) -> Transaction:
    """A port moving from chain ``old`` to chain ``new``, ``old`` retiring."""
    return Transaction(
        (
            add(NEW),
            add(ChainRule(NEW, ACCEPT)),
            delete(Elements(target_set, ((("tap1",), ("goto", "old")),))),
            add(Elements(target_set, ((("tap1",), ("goto", "new")),))),
            flush(OLD),
            delete(OLD),
        )
    )


def test_a_move_is_prepared_switched_and_cleaned_up() -> None:
    steps = stages(moving())
    assert steps is not None
    assert [c.obj for c in steps.prepare.commands] == [NEW, ChainRule(NEW, ACCEPT)]
    assert all(isinstance(c.obj, Elements) for c in steps.switch.commands)
    assert [c.verb.value for c in steps.cleanup.commands] == ["flush", "delete"]


def test_an_edit_of_a_live_chain_runs_whole() -> None:
    tx = moving() + Transaction((flush(LIVE), add(ChainRule(LIVE, ACCEPT))))
    assert stages(tx) is None


def test_elements_alone_need_no_stages() -> None:
    only = Transaction(tuple(c for c in moving().commands if isinstance(c.obj, Elements)))
    assert stages(only) is None


@pytest.fixture
def kernel() -> Iterator[LibNftables]:
    from guestwall.lab.netns import create_netns, remove_netns

    ns = f"{new_prefix('k')}-stg"
    create_netns(ns)
    backend = open_backend(ns)
    try:
        assert isinstance(backend, LibNftables)
        backend.run(Transaction((add(T), add(OLD), add(DISPATCH))))
        backend.run(Transaction((add(Elements(DISPATCH, ((("tap1",), ("goto", "old")),))),)))
        yield backend
    finally:
        backend.close()
        remove_netns(ns)


@netns_test
def test_the_staged_move_leaves_the_kernel_as_the_whole_one_would(kernel: LibNftables) -> None:
    run_staged(kernel, moving())
    table = read_state(kernel, families=("bridge",))["bridge"]
    assert set(table.chains) == {"new"}
    assert table.sets["l2out"].elements == {("tap1",): ("goto", "new")}


@netns_test
def test_a_refused_switch_takes_the_prepared_chains_back(kernel: LibNftables) -> None:
    missing = SetDecl(T, "nosuchmap", (DataType.IFNAME,), map_type=DataType.VERDICT)
    tx = moving() + Transaction((add(Elements(missing, ((("tap1",), ("accept", None)),))),))
    assert stages(tx) is not None
    with pytest.raises(DataplaneError, match="nosuchmap"):
        run_staged(kernel, tx)
    table = read_state(kernel, families=("bridge",))["bridge"]
    assert set(table.chains) == {"old"}
    assert table.sets["l2out"].elements == {("tap1",): ("goto", "old")}


def test_an_address_is_a_switch_element() -> None:
    blocks = SetDecl(Table("inet", "guestwall"), "ipset.b.v4", (DataType.IPV4_ADDR,), flags=("interval",))
    tx = moving() + Transaction((add(Elements(blocks, (((IPv4Address("192.0.2.1"),), None),))),))
    steps = stages(tx)
    assert steps is not None and len(steps.switch.commands) == 3
