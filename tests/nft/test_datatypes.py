"""nft data types as values (issue 9 item 2): declared, rendered and read back as one DataType; a name the
kernel lists that guestwall never declares is refused by name, not compared as text."""

from __future__ import annotations

import pytest

from guestwall.compile.ruleset import SetSpec
from guestwall.dataplane.diff import decl_matches
from guestwall.dataplane.state import parse_table
from guestwall.errors import DataplaneError
from guestwall.nft import ir, render
from guestwall.nft.commands import SetDecl, Table
from guestwall.nft.datatypes import DataType, address_type, parse_type

T = Table("bridge", "guestwall")


def _listing(**obj: object) -> dict[str, object]:
    base = {"family": "bridge", "table": "guestwall", "name": "s", "handle": 2}
    kind = "map" if "map" in obj else "set"
    return {"nftables": [{kind: {**base, **obj}}]}


@pytest.mark.parametrize("t", list(DataType))
def test_every_type_is_an_nft_keyword_and_reads_back_as_itself(t: DataType) -> None:
    assert render.keyword(t) == t.value
    assert parse_type(t.value) is t


def test_the_read_back_yields_the_enum_members() -> None:
    table = parse_table("bridge", _listing(type=["ifname", "ipv4_addr"], map="verdict"))
    decl = table.sets["s"].decl
    assert decl.key_types == (DataType.IFNAME, DataType.IPV4_ADDR)
    assert all(type(t) is DataType for t in decl.key_types)
    assert decl.map_type is DataType.VERDICT and decl.kind == "map"
    single = parse_table("bridge", _listing(type="mark", map="mark")).sets["s"].decl
    assert single.key_types == (DataType.MARK,) and single.map_type is DataType.MARK


@pytest.mark.parametrize(
    "obj",
    [{"type": ["ifname", "ipv4_adr"]}, {"type": "ifname", "map": "counter"}, {"type": 7}],
)
def test_a_type_guestwall_never_declares_is_refused_naming_the_set(obj: dict[str, object]) -> None:
    with pytest.raises(DataplaneError, match="set bridge guestwall s: the kernel lists the data type"):
        parse_table("bridge", _listing(**obj))


def test_declarations_render_as_before() -> None:
    vmap = SetDecl(T, "m", (DataType.IFNAME,), map_type=DataType.VERDICT)
    assert render.declaration(vmap) == "type ifname : verdict;"
    nat = SetDecl(T, "n", (DataType.IPV4_ADDR, DataType.IFNAME), map_type=DataType.IPV4_ADDR)
    assert render.declaration(nat) == "type ipv4_addr . ifname : ipv4_addr;"
    assert address_type(6) is DataType.IPV6_ADDR and address_type(4) is DataType.IPV4_ADDR


@pytest.mark.parametrize(
    ("t", "value", "text"),
    [
        (DataType.ETHER_TYPE, 0x800, "0x0800"),
        (DataType.MARK, 0x47570001, "0x47570001"),
        (DataType.INTEGER, 46, "0x2e"),
        (DataType.INET_SERVICE, 22, "22"),
        (DataType.INET_PROTO, 6, "6"),
        (DataType.IFNAME, "vnet0", '"vnet0"'),
    ],
)
def test_components_are_written_by_their_type(t: DataType, value: object, text: str) -> None:
    assert render.component(value, t) == text


def test_a_typeof_number_matches_the_type_the_kernel_lists_for_its_expression() -> None:
    """nft lists ``typeof iifname . ip dscp`` as ifname . dscp: the compiler's INTEGER for it matches; a
    set declared with ``type`` has no such leeway."""
    keys = (DataType.IFNAME, DataType.INTEGER)
    typeof = SetSpec("s", keys, (ir.Meta("iifname"), ir.Payload("ip", "dscp")))
    for listed in (DataType.DSCP, DataType.ARP_OP, DataType.INTEGER):
        assert decl_matches(typeof, SetDecl(T, "s", (DataType.IFNAME, listed)))
    assert not decl_matches(typeof, SetDecl(T, "s", (DataType.IFNAME, DataType.MARK)))
    assert not decl_matches(typeof, SetDecl(T, "s", (DataType.IFNAME, DataType.DSCP, DataType.DSCP)))
    plain = SetSpec("s", keys)
    assert not decl_matches(plain, SetDecl(T, "s", (DataType.IFNAME, DataType.DSCP)))
    assert not decl_matches(typeof, SetDecl(T, "s", keys, map_type=DataType.VERDICT))
