"""compile.inline: jumps to chains whose outcome one rule can say are replaced by that rule's tail."""

from __future__ import annotations

from guestwall.compile.fold import describe
from guestwall.compile.inline import inline_jumps
from guestwall.compile.ruleset import BaseHook, ChainSpec, rule_digest
from guestwall.nft import ir

V = ir.VerdictKind
MACS = ir.Match(ir.Concat((ir.Meta("iifname"), ir.Payload("ether", "saddr"))), ir.SetRef("macs"))
IPV4 = ir.Match(ir.Payload("ether", "type"), ir.Const(0x0800, ir.Style.ETHERTYPE))
SRC = ir.Match(ir.Payload("ip", "saddr"), ir.SetRef("ips"))


def rule(*stmts: ir.Statement, origin: str = "f#1") -> ir.Rule:
    return ir.Rule(tuple(stmts), f"{rule_digest(ir.Rule(tuple(stmts)))} {origin}")


def inlined(root: list[ir.Rule], **targets: list[ir.Rule]) -> list[str]:
    chains = {"root": ChainSpec("root", root), **{n: ChainSpec(n, r) for n, r in targets.items()}}
    inline_jumps(chains, rule_digest)
    return describe(chains["root"].rules).splitlines()


def test_return_or_drop_becomes_a_negated_match() -> None:
    mac = [
        rule(MACS, ir.Verdict(V.RETURN)),
        rule(ir.Verdict(V.DROP), origin="f#2"),
        rule(ir.Verdict(V.ACCEPT)),
    ]
    chains = {"root": ChainSpec("root", [rule(ir.Verdict(V.JUMP, "mac"))]), "mac": ChainSpec("mac", mac)}
    inline_jumps(chains, rule_digest)
    assert describe(chains["root"].rules) == "iifname . ether saddr != @macs drop"
    assert chains["root"].rules[0].comment.endswith(" f#2")  # the rule that decides: the drop


def test_a_first_bare_verdict_is_taken_over() -> None:
    assert inlined([rule(IPV4, ir.Verdict(V.JUMP, "v4"))], v4=[rule(ir.Verdict(V.ACCEPT))]) == [
        "ether type 0x0800 accept"
    ]


def test_fields_that_can_be_missing_effects_and_other_shapes_stay_jumps() -> None:
    jump = [rule(ir.Verdict(V.JUMP, "x"))]
    # ``ip saddr != @ips`` would not match an ARP frame, which the chain drops
    assert inlined(jump, x=[rule(SRC, ir.Verdict(V.RETURN)), rule(ir.Verdict(V.DROP))]) == ["jump x"]
    counted = [rule(MACS, ir.Verdict(V.RETURN)), rule(ir.Counter(), ir.Verdict(V.DROP))]
    assert inlined(jump, x=counted) == ["jump x"]
    assert inlined(jump, x=[rule(MACS, ir.Verdict(V.RETURN)), rule(ir.Verdict(V.ACCEPT))]) == ["jump x"]
    assert inlined(jump, x=[rule(MACS, ir.Verdict(V.ACCEPT))]) == ["jump x"]
    assert inlined(jump, x=[]) == ["jump x"]
    logged = [rule(ir.Counter(), ir.Verdict(V.JUMP, "x"))]
    assert inlined(logged, x=[rule(ir.Verdict(V.DROP))]) == ["counter jump x"]


def test_base_chains_are_left_alone() -> None:
    chains = {
        "pre": ChainSpec("pre", [rule(ir.Verdict(V.JUMP, "x"))], BaseHook("prerouting", -300)),
        "x": ChainSpec("x", [rule(ir.Verdict(V.DROP))]),
    }
    inline_jumps(chains, rule_digest)
    assert describe(chains["pre"].rules) == "jump x"
