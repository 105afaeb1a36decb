"""The nft package: typed commands render to exactly one text, and values cannot inject syntax (that no
other module writes nftables syntax: test_no_nft_text.py)."""

from __future__ import annotations

from ipaddress import ip_address, ip_network

import pytest

from guestwall.errors import InstantiationError, RenderError
from guestwall.nft import ir, render
from guestwall.nft.commands import (
    BaseHook,
    Chain,
    ChainRule,
    Elements,
    ListSet,
    ListSets,
    ListTable,
    SetDecl,
    Table,
    Transaction,
    add,
    delete,
    flush,
    transaction,
)
from guestwall.nft.datatypes import DataType

T = Table("bridge", "guestwall")


def test_commands_render_one_per_line() -> None:
    chain = Chain(T, "pre", BaseHook("prerouting", -300))
    vmap = SetDecl(T, "l2out", (DataType.IFNAME,), map_type=DataType.VERDICT)
    values = SetDecl(T, "v.x", (DataType.IFNAME, DataType.IPV4_ADDR), flags=("interval",))
    rule = ir.Rule((ir.VMap(ir.Meta("iifname"), "l2out"),), "abc guestwall")
    tx = transaction(
        [
            add(T),
            add(chain),
            add(vmap),
            add(values),
            add(ChainRule(chain, rule)),
            add(Elements(vmap, ((("vnet0",), ("goto", "l2o.x")),))),
            add(Elements(values, ((("vnet0", (ip_address("10.0.0.0"), ip_address("10.0.0.255"))), None),))),
            delete(Elements(vmap, ((("vnet0",), ("goto", "l2o.x")),))),
            flush(chain),
            delete(values),
        ]
    )
    assert tx.text().splitlines() == [
        "add table bridge guestwall",
        "add chain bridge guestwall pre { type filter hook prerouting priority -300; policy accept; }",
        "add map bridge guestwall l2out { type ifname : verdict; }",
        "add set bridge guestwall v.x { type ifname . ipv4_addr; flags interval; }",
        'add rule bridge guestwall pre iifname vmap @l2out comment "abc guestwall"',
        'add element bridge guestwall l2out { "vnet0" : goto l2o.x }',
        'add element bridge guestwall v.x { "vnet0" . 10.0.0.0-10.0.0.255 }',
        'delete element bridge guestwall l2out { "vnet0" }',
        "flush chain bridge guestwall pre",
        "delete set bridge guestwall v.x",
    ]
    assert tx.counts() == {
        "add table": 1,
        "add chain": 1,
        "add map": 1,
        "add set": 1,
        "add rule": 1,
        "add element": 2,
        "delete element": 1,
        "flush chain": 1,
        "delete set": 1,
    }
    assert not Transaction() and Transaction().text() == ""


def test_typeof_declarations_render_their_expressions() -> None:
    decl = SetDecl(
        T,
        "v.raw",
        (DataType.IFNAME, DataType.INTEGER),
        typeof=(ir.Meta("iifname"), ir.Raw("nh", 64, 48)),
        flags=("interval",),
    )
    assert render.declaration(decl) == "typeof iifname . @nh,64,48; flags interval;"


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        (ir.Const(ip_network("10.0.0.0/8")), "10.0.0.0/8"),
        (ir.Const((1024, 65535)), "1024-65535"),
        (ir.Const(0x800, ir.Style.ETHERTYPE), "0x0800"),
        (ir.Const((0x10, 0x1F), ir.Style.HEX), "0x10-0x1f"),
        (ir.Const(("52:54:00:00:00:00", "52:54:00:ff:ff:ff")), "52:54:00:00:00:00-52:54:00:ff:ff:ff"),
        (ir.Const("vnet*", ir.Style.IFNAME), '"vnet*"'),
        (ir.Const("ipv4", ir.Style.SYMBOL), "ipv4"),
        (ir.AnonSet(("established", "related")), "{ established, related }"),
        (ir.Masked(ir.Payload("tcp", "flags"), ir.Const(0x12, ir.Style.HEX)), "tcp flags & 0x12"),
        (ir.Concat((ir.Meta("mark"), ir.Payload("arp", "saddr ip"))), "meta mark . arp saddr ip"),
        (ir.TcpOption(2), "tcp option 2"),
    ],
)
def test_expressions(expr: ir.Expr, text: str) -> None:
    assert render.expr(expr) == text


@pytest.mark.parametrize(
    "bad",
    [
        ir.Const('vnet0" accept; drop "', ir.Style.IFNAME),
        ir.Const("vnet\\0", ir.Style.IFNAME),
        ir.Const("vnet0\n", ir.Style.IFNAME),
        ir.Const("ipv4; flush ruleset", ir.Style.SYMBOL),
        ir.Const("52:54:00:00:00:01 accept", ir.Style.PLAIN),
        ir.SetRef("v.x accept"),
        ir.AnonSet(("new", "established }")),
    ],
)
def test_values_cannot_inject_syntax(bad: ir.Expr) -> None:
    with pytest.raises(RenderError):
        render.expr(bad)


def test_names_and_elements_cannot_inject_syntax() -> None:
    vmap = SetDecl(T, "l2out", (DataType.IFNAME,), map_type=DataType.VERDICT)
    with pytest.raises((RenderError, InstantiationError)):  # an element's name: model.ifname's check too
        render.command(
            add(Elements(vmap, ((('vnet0" }; flush ruleset; add element x { "',), ("drop", None)),)))
        )
    with pytest.raises(RenderError):
        render.command(add(Chain(T, "c; flush ruleset")))
    with pytest.raises(RenderError):
        render.command(add(Chain(Table("bridge; flush ruleset", "x"), "c")))
    with pytest.raises(RenderError):
        render.rule(ir.Rule((ir.Verdict(ir.VerdictKind.ACCEPT),), 'x" ; flush ruleset'))


def test_listings() -> None:
    assert render.listing(ListTable(T)) == "table bridge guestwall"
    assert render.listing(ListSet(T, "l2out", map=True)) == "map bridge guestwall l2out"
    assert render.listing(ListSets("inet", maps=False)) == "sets inet"
    assert render.listing(ListSets(None, maps=True)) == "maps"
