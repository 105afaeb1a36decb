"""A backend remembers its last terse reading of our tables with the ruleset generation it holds for: the
next change reads the kernel again only when something was committed since. Its own element-only batch
carries the reading forward (elements are not part of it); anything else committed, by guestwall or by
someone with nft, makes the next reading go to the kernel."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from ipaddress import IPv4Address

import pytest

from guestwall.compile import names
from guestwall.dataplane.backend import LibNftables, open_backend
from guestwall.dataplane.state import read_sets, read_terse
from guestwall.nft.commands import Chain, Elements, SetDecl, Table, Transaction, add
from guestwall.nft.datatypes import DataType
from netns_fixtures import needs_netns, new_prefix

pytestmark = needs_netns

INET = Table("inet", names.TABLE)
ADDRESSES = SetDecl(INET, "s", (DataType.IPV4_ADDR,))


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LibNftables, list[str]]]:
    from guestwall.lab.netns import create_netns, remove_netns

    ns = f"{new_prefix('k')}-tm"
    create_netns(ns)
    backend = open_backend(ns)
    try:
        assert isinstance(backend, LibNftables)
        backend.run(Transaction((add(INET), add(Chain(INET, "c")), add(ADDRESSES))))
        reader = backend.chain_reader()
        dumps: list[str] = []
        real = reader.chains

        def chains(family: str):  # type: ignore[no-untyped-def]
            dumps.append(family)
            return real(family)

        monkeypatch.setattr(reader, "chains", chains)
        yield backend, dumps
    finally:
        backend.close()
        remove_netns(ns)


def test_a_reading_is_reused_until_something_is_committed(counted: tuple[LibNftables, list[str]]) -> None:
    backend, dumps = counted
    first = read_terse(backend)
    assert "c" in first["inet"].chains and "s" in first["inet"].sets
    read_dumps = len(dumps)
    assert read_dumps > 0
    assert read_terse(backend) is first and read_sets(backend) is first
    assert len(dumps) == read_dumps  # nothing committed: not read again

    backend.run(Transaction((add(Elements(ADDRESSES, (((IPv4Address("192.0.2.1"),), None),))),)))
    assert read_terse(backend) is first  # its own element batch: carried forward
    assert len(dumps) == read_dumps

    netns = backend.netns
    assert netns is not None
    subprocess.run(
        ["ip", "netns", "exec", netns, "nft", "add", "chain", "inet", names.TABLE, "x"], check=True
    )
    again = read_terse(backend)  # someone else committed: read again, and their chain is seen
    assert len(dumps) > read_dumps and "x" in again["inet"].chains


def test_a_libnftables_transaction_forgets_the_reading(counted: tuple[LibNftables, list[str]]) -> None:
    backend, dumps = counted
    read_terse(backend)
    read_dumps = len(dumps)
    backend.run(Transaction((add(Chain(INET, "d")),)))
    assert "d" in read_terse(backend)["inet"].chains
    assert len(dumps) > read_dumps
