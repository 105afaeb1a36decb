"""The network layer's nft values (address translation, conntrack flags, port sets, map lookups, rules
inserted into other tools' chains) render to exactly libvirt's and Nova's forms, and refuse what nft would
read as something else."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

import pytest

from guestwall.errors import RenderError
from guestwall.nft import ir, render
from guestwall.nft.commands import Chain, ChainRule, Command, Table, Verb

A, B = IPv4Address("192.0.2.10"), IPv4Address("192.0.2.20")
DADDR = ir.Payload("ip", "daddr")


@pytest.mark.parametrize(
    ("nat", "text"),
    [
        (ir.Nat(ir.NatKind.MASQUERADE), "masquerade"),
        (ir.Nat(ir.NatKind.MASQUERADE, port=ir.Const((1024, 65535))), "masquerade to :1024-65535"),
        (ir.Nat(ir.NatKind.SNAT, ir.Const(A)), "snat to 192.0.2.10"),
        (ir.Nat(ir.NatKind.SNAT, ir.Const((A, B))), "snat to 192.0.2.10-192.0.2.20"),
        (
            ir.Nat(ir.NatKind.SNAT, ir.Const((A, B)), ir.Const((2000, 3000))),
            "snat to 192.0.2.10-192.0.2.20:2000-3000",
        ),
        (ir.Nat(ir.NatKind.DNAT, ir.Const(A), ir.Const(8775)), "dnat to 192.0.2.10:8775"),
        (ir.Nat(ir.NatKind.DNAT, ir.Const(IPv6Address("fd00::1")), ir.Const(80)), "dnat to [fd00::1]:80"),
        (ir.Nat(ir.NatKind.DNAT, ir.Const(IPv6Address("fd00::1"))), "dnat to fd00::1"),
        (ir.Nat(ir.NatKind.DNAT, ir.MapLookup(DADDR, "fip_dnat")), "dnat to ip daddr map @fip_dnat"),
        (
            ir.Nat(ir.NatKind.SNAT, ir.MapLookup(ir.Concat((DADDR, ir.Meta("oifname"))), "m")),
            "snat to ip daddr . oifname map @m",
        ),
        (ir.Nat(ir.NatKind.REDIRECT, port=ir.Const(8080)), "redirect to :8080"),
    ],
)
def test_nat(nat: ir.Nat, text: str) -> None:
    assert render.statements((nat,)) == text


@pytest.mark.parametrize(
    "bad",
    [
        ir.Nat(ir.NatKind.SNAT),  # to where?
        ir.Nat(ir.NatKind.MASQUERADE, ir.Const(A)),  # masquerade takes the interface's address
        ir.Nat(ir.NatKind.DNAT, ir.MapLookup(DADDR, "m"), ir.Const(80)),
        ir.Nat(ir.NatKind.DNAT, ir.MapLookup(DADDR, "m accept")),
        ir.Nat(ir.NatKind.SNAT, ir.Const("192.0.2.1; flush ruleset")),  # text is not an address
        ir.Nat(ir.NatKind.SNAT, ir.Const(A), ir.Const(70000)),
        ir.Nat(ir.NatKind.SNAT, ir.Const(A), ir.Const("80; flush ruleset")),
    ],
)
def test_nat_refuses(bad: ir.Nat) -> None:
    with pytest.raises(RenderError):
        render.statements((bad,))


def test_flags_sets_and_lookups() -> None:
    assert render.expr(ir.Flags(("established", "related"))) == "established,related"
    assert render.expr(ir.ConstSet((ir.Const(53), ir.Const(67)))) == "{ 53, 67 }"
    assert render.expr(ir.ConstSet((ir.Const(A), ir.Const((1, 9))))) == "{ 192.0.2.10, 1-9 }"
    assert render.expr(ir.MapLookup(DADDR, "fip_dnat")) == "ip daddr map @fip_dnat"
    for bad in (
        ir.Flags(("established", "related accept")),
        ir.ConstSet((ir.Const("x }; flush ruleset", ir.Style.SYMBOL),)),
    ):
        with pytest.raises(RenderError):
            render.expr(bad)


def test_insert_rule_into_another_tables_chain() -> None:
    chain = Chain(Table("inet", "hostfw"), "input")
    rule = ir.Rule(
        (
            ir.Match(ir.Meta("iifname"), ir.Const("virbr0", ir.Style.IFNAME)),
            ir.Match(ir.Meta("l4proto"), ir.AnonSet(("tcp", "udp"))),
            ir.Match(ir.Payload("th", "dport"), ir.ConstSet((ir.Const(53), ir.Const(67)))),
            ir.Verdict(ir.VerdictKind.ACCEPT),
        ),
        "guestwall-coexist:virbr0",
    )
    assert render.command(Command(Verb.INSERT, ChainRule(chain, rule))) == (
        'insert rule inet hostfw input iifname "virbr0" meta l4proto { tcp, udp } th dport { 53, 67 } accept'
        ' comment "guestwall-coexist:virbr0"'
    )
    assert Command(Verb.INSERT, ChainRule(chain, rule)).kind == "insert rule"
    with pytest.raises(RenderError):
        render.command(Command(Verb.DELETE, ChainRule(chain, rule)))
    with pytest.raises(RenderError):  # a foreign chain whose name nft would read as more syntax
        render.command(Command(Verb.INSERT, ChainRule(Chain(chain.table, "in put"), rule)))
