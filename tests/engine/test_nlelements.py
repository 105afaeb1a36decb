"""Element-only transactions go to nf_tables over netlink (dataplane.nlelements), not through libnftables,
and the kernel ends up holding exactly what libnftables would have written: for every kind of set and map
guestwall declares, the same elements are written into twin sets, one by libnftables and one by the netlink
writer, and the kernel's dumps of the two are compared attribute for attribute. Refusals are atomic and
name the command."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv6Address, ip_address

import pytest

from guestwall.dataplane import nlelements
from guestwall.dataplane.backend import LibNftables, open_backend
from guestwall.dataplane.nlchains import ChainReader, _attrs
from guestwall.errors import DataplaneError
from guestwall.nft import ir
from guestwall.nft.commands import Chain, Command, Elements, SetDecl, Table, Transaction, Verb, add, delete
from guestwall.nft.datatypes import DataType as T
from guestwall.nft.render import render_transaction
from netns_fixtures import needs_netns, new_prefix

pytestmark = needs_netns

BRIDGE, INET = Table("bridge", "nlel"), Table("inet", "nlel")
A4, A6 = IPv4Address, IPv6Address


def net(text: str) -> tuple[object, object]:
    from ipaddress import ip_network

    n = ip_network(text)
    return (n.network_address, n.broadcast_address)


# (declaration, elements): every key and value shape the compiler, the cloud layer and the networks use
CASES: list[tuple[SetDecl, tuple[tuple[tuple[object, ...], object], ...]]] = [
    (
        SetDecl(INET, "rb4", (T.IPV4_ADDR,), flags=("interval",)),
        (
            ((net("10.0.0.0/24"),), None),
            ((A4("10.0.1.5"),), None),
            ((net("0.0.0.0/8"),), None),
            ((net("255.255.255.0/24"),), None),  # runs to the last address: no end element
            (((A4("1.2.3.4"), A4("1.2.3.9")),), None),
            ((net("10.0.2.0/24"),), None),  # adjacent to nothing; 10.0.1.6.. stays out
        ),
    ),
    (
        SetDecl(INET, "rb6", (T.IPV6_ADDR,), flags=("interval",)),
        (((net("2001:db8::/64"),), None), ((A6("::1"),), None), ((net("ffff::/16"),), None)),
    ),
    (
        SetDecl(BRIDGE, "pp", (T.IFNAME, T.IPV4_ADDR), flags=("interval",)),
        ((("p1", A4("10.0.0.1")), None), (("p2", net("10.1.0.0/16")), None)),
    ),
    (
        SetDecl(BRIDGE, "pp6", (T.IFNAME, T.IPV6_ADDR), flags=("interval",)),
        ((("p1", A6("fe80::1")), None), (("p2", net("2001:db8::/48")), None)),
    ),
    (
        SetDecl(
            BRIDGE,
            "r6",
            (T.IFNAME, T.INTEGER),
            typeof=(ir.Meta("iifname"), ir.Raw("th", 64, 128)),
            flags=("interval",),
        ),
        ((("p1", 0xFE800000000000000000000000000001), None),),
    ),
    (
        SetDecl(BRIDGE, "vm", (T.IFNAME,), map_type=T.VERDICT),
        (
            (("p1",), ("goto", "c")),
            (("p2",), ("accept", None)),
            (("p3",), ("drop", None)),
            (("p4",), ("jump", "c")),
        ),
    ),
    (SetDecl(BRIDGE, "mm", (T.IFNAME,), map_type=T.MARK), ((("p1",), 0x47570001), (("p2",), 0x47570002))),
    (SetDecl(INET, "markmap", (T.MARK,), map_type=T.VERDICT), (((0x47570001,), ("goto", "c")),)),
    (
        SetDecl(BRIDGE, "ce", (T.IFNAME, T.ETHER_ADDR)),
        ((("p1", "52:54:00:00:00:01"), None), (("p2", "52:54:00:aa:bb:cc"), None)),
    ),
    (
        SetDecl(
            BRIDGE,
            "raw",
            (T.IFNAME, T.INTEGER, T.INTEGER),
            typeof=(ir.Meta("oifname"), ir.Raw("nh", 64, 48), ir.Raw("nh", 144, 48)),
        ),
        ((("p1", 0x525400000001, 0x525400000002), None),),
    ),
    (
        SetDecl(INET, "svc", (T.INET_PROTO, T.INET_SERVICE)),
        (((6, 22), None), ((17, 53), None)),
    ),
    (SetDecl(BRIDGE, "et", (T.ETHER_TYPE,)), (((0x0800,), None), ((0x86DD,), None))),
]


def _name_attr(kind: int, text: str) -> bytes:
    raw = text.encode() + b"\0"
    return struct.pack("=HH", 4 + len(raw), kind) + raw + b"\0" * (-len(raw) % 4)


def dump(reader: ChainReader, decl: SetDecl) -> list[bytes]:
    """The set's elements as the kernel lists them, each element's attributes as bytes, sorted."""
    attrs = _name_attr(1, decl.table.name) + _name_attr(2, decl.name)
    found = reader._dump(13, decl.table.family, attrs)  # NFT_MSG_GETSETELEM
    assert found is not None
    return sorted(el for message in found for _, el in _attrs(message.get(3, b"")))


def twin(decl: SetDecl, suffix: str) -> SetDecl:
    return SetDecl(decl.table, decl.name + suffix, decl.key_types, decl.typeof, decl.flags, decl.map_type)


@pytest.fixture
def kernel() -> Iterator[tuple[LibNftables, ChainReader]]:
    from guestwall.lab.netns import create_netns, remove_netns

    ns = f"{new_prefix('k')}-nle"
    create_netns(ns)
    backend = open_backend(ns)
    reader = ChainReader(ns)
    try:
        assert isinstance(backend, LibNftables)
        setup = [add(BRIDGE), add(INET), add(Chain(BRIDGE, "c")), add(Chain(INET, "c"))]
        for decl, _ in CASES:
            setup += [add(twin(decl, "_lib")), add(twin(decl, "_nl"))]
        backend.run(Transaction(tuple(setup)))
        yield backend, reader
    finally:
        reader.close()
        backend.close()
        remove_netns(ns)


def by_libnftables(backend: LibNftables, tx: Transaction) -> None:
    rc, _, err = backend._call(backend._ctx, render_transaction(tx))
    assert rc == 0, err


def by_netlink(backend: LibNftables, tx: Transaction) -> None:
    messages = nlelements.encode(tx)
    assert messages is not None, f"not written over netlink: {render_transaction(tx)}"
    backend.element_writer().send(messages, lambda c: render_transaction(Transaction((c,))))


@pytest.mark.parametrize(("decl", "items"), CASES, ids=[d.name for d, _ in CASES])
def test_the_kernel_holds_what_libnftables_would_have_written(
    kernel: tuple[LibNftables, ChainReader],
    decl: SetDecl,
    items: tuple[tuple[tuple[object, ...], object], ...],
) -> None:
    backend, reader = kernel
    lib, nl = twin(decl, "_lib"), twin(decl, "_nl")
    by_libnftables(backend, Transaction((add(Elements(lib, items)),)))
    by_netlink(backend, Transaction((add(Elements(nl, items)),)))
    written = dump(reader, lib)
    assert written, "libnftables wrote nothing: the comparison would prove nothing"
    assert dump(reader, nl) == written
    # deleting every other element leaves both sets alike again
    gone = items[::2]
    by_libnftables(backend, Transaction((delete(Elements(lib, gone)),)))
    by_netlink(backend, Transaction((delete(Elements(nl, gone)),)))
    assert dump(reader, nl) == dump(reader, lib)
    assert len(dump(reader, nl)) < len(written)


def test_an_element_only_transaction_skips_libnftables(
    kernel: tuple[LibNftables, ChainReader], monkeypatch: pytest.MonkeyPatch
) -> None:
    backend, reader = kernel
    decl = twin(CASES[0][0], "_nl")

    def refuse(*_: object) -> object:
        raise AssertionError("libnftables was called for an element-only transaction")

    monkeypatch.setattr(backend, "_call", refuse)
    backend.run(Transaction((add(Elements(decl, (((A4("192.0.2.7"),), None),))),)))
    assert len(dump(reader, decl)) == 3  # the end element at zero, the start and the end


def test_a_refused_batch_changes_nothing_and_names_the_command(
    kernel: tuple[LibNftables, ChainReader],
) -> None:
    backend, reader = kernel
    blocks = twin(CASES[0][0], "_nl")
    ports = twin(CASES[5][0], "_nl")
    by_netlink(backend, Transaction((add(Elements(blocks, (((net("198.51.100.0/24"),), None),))),)))
    before = dump(reader, blocks), dump(reader, ports)
    tx = Transaction(
        (
            add(Elements(ports, ((("p9",), ("accept", None)),))),
            add(Elements(blocks, (((net("198.51.100.0/25"),), None),))),  # overlaps: refused
        )
    )
    with pytest.raises(DataplaneError) as refused:
        backend.run(tx)
    assert "File exists" in str(refused.value)
    assert "198.51.100.0-198.51.100.127" in str(refused.value) or "198.51.100.0/25" in str(refused.value)
    assert (dump(reader, blocks), dump(reader, ports)) == before


def test_a_missing_set_is_refused_with_its_name(kernel: tuple[LibNftables, ChainReader]) -> None:
    backend, _ = kernel
    missing = SetDecl(INET, "nosuchset", (T.IPV4_ADDR,))
    with pytest.raises(DataplaneError, match="nosuchset"):
        backend.run(Transaction((add(Elements(missing, (((A4("192.0.2.1"),), None),))),)))


@pytest.mark.parametrize(
    "command",
    [
        add(Chain(INET, "other")),  # not an element
        Command(Verb.FLUSH, SetDecl(INET, "s", (T.IPV4_ADDR,))),
        add(Elements(SetDecl(INET, "d", (T.DSCP,)), (((10,), None),))),  # a type without a writer
        add(Elements(SetDecl(INET, "w", (T.IFNAME,)), ((("gw*",), None),))),  # a wildcard name
        add(
            Elements(
                SetDecl(INET, "t", (T.IPV4_ADDR,), flags=("timeout",)), (((ip_address("1.2.3.4"),), None),)
            )
        ),
    ],
)
def test_what_the_writer_cannot_write_goes_to_libnftables(command: Command) -> None:
    assert nlelements.encode(Transaction((command,))) is None


def _ack(seq: int, code: int = 0) -> bytes:
    return struct.pack("=IHHII", 36, 2, 0, seq, 0) + struct.pack("=i", code) + bytes(16)


def test_answers_to_earlier_batches_are_skipped() -> None:
    import socket

    ours, kernel = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    with ours, kernel:
        kernel.send(_ack(3, -17))  # left over from an earlier batch: not about this one
        kernel.send(_ack(11) + _ack(12))
        assert nlelements._acks(ours, 10, 13) is None
        kernel.send(_ack(21) + _ack(22, -2))
        assert nlelements._acks(ours, 20, 23) == (2, 22)
        kernel.send(_ack(30, -1))  # the batch itself refused: no acks follow
        assert nlelements._acks(ours, 30, 33) == (1, 30)
