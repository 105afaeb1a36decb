"""The dataplane's diff against a kernel that already holds something: only what differs, in an order the
kernel accepts (elements out before chains go, chains emptied before they are deleted)."""

from __future__ import annotations

from dataclasses import replace

from guestwall.compile.ruleset import BaseHook, ChainSpec, Ruleset, SetSpec, TableSpec, rule_digest
from guestwall.dataplane.diff import diff
from guestwall.dataplane.state import ActualChain, ActualSet, ActualTable, actual_of, parse_table
from guestwall.nft import ir
from guestwall.nft.commands import Chain, SetDecl, Table
from guestwall.nft.datatypes import DataType

FAMILY = "bridge"
DROP = ir.Verdict(ir.VerdictKind.DROP)


def _rule(*stmts: ir.Statement) -> ir.Rule:
    rule = ir.Rule(tuple(stmts))
    return ir.Rule(rule.statements, f"{rule_digest(rule)} test")


def desired() -> Ruleset:
    table = TableSpec(FAMILY, "guestwall")
    table.sets["l2out"] = SetSpec("l2out", (DataType.IFNAME,), map_type=DataType.VERDICT)
    table.sets["v.mac"] = SetSpec("v.mac", (DataType.IFNAME, DataType.ETHER_ADDR))
    table.sets["l2out"].elements = {("vnet0",): ("goto", "g"), ("vnet1",): ("goto", "g")}
    table.sets["v.mac"].elements = {
        ("vnet0", "52:54:00:00:00:01"): None,
        ("vnet1", "52:54:00:00:00:02"): None,
    }
    iif = ir.Meta("iifname")
    table.chains["pre"] = ChainSpec("pre", [_rule(ir.VMap(iif, "l2out"))], BaseHook("prerouting", -300))
    lookup = ir.Match(ir.Concat((iif, ir.Payload("ether", "saddr"))), ir.SetRef("v.mac"), negated=True)
    table.chains["g"] = ChainSpec("g", [_rule(lookup, DROP)])
    return Ruleset({FAMILY: table})


def test_equal_state_is_an_empty_transaction() -> None:
    assert not diff(desired(), actual_of(desired()))


def test_an_empty_kernel_gets_everything_declarations_first() -> None:
    lines = diff(desired(), {}).text().splitlines()
    assert lines[0] == "add table bridge guestwall"
    first_rule = next(i for i, line in enumerate(lines) if line.startswith("add rule"))
    assert all(not line.startswith("add rule") for line in lines[:first_rule])
    assert all(line.startswith(("add rule", "add element")) for line in lines[first_rule:])


def test_a_port_that_went_and_one_that_came_are_element_changes_only() -> None:
    kernel = actual_of(desired())
    table = kernel[FAMILY]
    del table.sets["l2out"].elements[("vnet1",)]
    table.sets["v.mac"].elements[("vnet9", "52:54:00:00:00:09")] = None
    assert diff(desired(), kernel).text().splitlines() == [
        'delete element bridge guestwall v.mac { "vnet9" . 52:54:00:00:00:09 }',
        'add element bridge guestwall l2out { "vnet1" : goto g }',
    ]


def test_a_map_element_with_another_value_is_replaced() -> None:
    kernel = actual_of(desired())
    kernel[FAMILY].sets["l2out"].elements[("vnet0",)] = ("drop", None)
    assert diff(desired(), kernel).text().splitlines() == [
        'delete element bridge guestwall l2out { "vnet0" }',
        'add element bridge guestwall l2out { "vnet0" : goto g }',
    ]


def test_an_edited_chain_is_flushed_and_refilled_alone() -> None:
    kernel = actual_of(desired())
    kernel[FAMILY].chains["g"].digests = ["0123456789"]
    lines = diff(desired(), kernel).text().splitlines()
    assert lines[0] == "flush chain bridge guestwall g"
    assert len(lines) == 2 and lines[1].startswith("add rule bridge guestwall g ")


def test_chains_and_sets_of_no_one_go_after_their_elements_and_rules() -> None:
    kernel = actual_of(desired())
    table = kernel[FAMILY]
    stale = Table(FAMILY, "guestwall")
    table.chains["old"] = ActualChain(Chain(stale, "old"), ["x"])
    table.sets["v.old"] = ActualSet(SetDecl(stale, "v.old", (DataType.IFNAME,)), {("vnet5",): None})
    assert diff(desired(), kernel).text().splitlines() == [
        "flush chain bridge guestwall old",
        "delete chain bridge guestwall old",
        "delete set bridge guestwall v.old",
    ]


def test_a_set_declared_otherwise_is_recreated_and_its_users_refilled() -> None:
    kernel = actual_of(desired())
    table = kernel[FAMILY]
    table.sets["v.mac"].decl = replace(table.sets["v.mac"].decl, flags=("interval",))
    lines = diff(desired(), kernel).text().splitlines()
    # the chain that names the set is emptied before the set is deleted, refilled after it is back
    assert lines.index("flush chain bridge guestwall g") < lines.index("delete set bridge guestwall v.mac")
    assert lines.index("delete set bridge guestwall v.mac") < lines.index(
        "add set bridge guestwall v.mac { type ifname . ether_addr; }"
    )
    assert any(line.startswith("add rule bridge guestwall g ") for line in lines)
    assert (
        'add element bridge guestwall v.mac { "vnet0" . 52:54:00:00:00:01, "vnet1" . 52:54:00:00:00:02 }'
        in lines
    )
    assert "flush chain bridge guestwall pre" not in lines  # it names l2out, not v.mac


def test_a_base_chain_on_another_hook_is_recreated() -> None:
    kernel = actual_of(desired())
    chain = kernel[FAMILY].chains["pre"]
    chain.decl = replace(chain.decl, base=BaseHook("prerouting", 0))
    lines = diff(desired(), kernel).text().splitlines()
    assert lines[:3] == [
        "flush chain bridge guestwall pre",
        "delete chain bridge guestwall pre",
        "add chain bridge guestwall pre { type filter hook prerouting priority -300; policy accept; }",
    ]


def test_the_read_back_gives_the_same_values() -> None:
    """A kernel listing (nft -j, as libnftables prints it) parses into the declarations the commands use."""
    listing = {
        "nftables": [
            {"table": {"family": "bridge", "name": "guestwall", "handle": 1}},
            {"map": {"family": "bridge", "name": "l2out", "table": "guestwall", "type": "ifname",
                     "handle": 2, "map": "verdict",
                     "elem": [["vnet0", {"goto": {"target": "g"}}], ["vnet1", {"goto": {"target": "g"}}]]}},
            {"set": {"family": "bridge", "name": "v.mac", "table": "guestwall", "type": ["ifname", "ether_addr"],
                     "handle": 3, "elem": [{"concat": ["vnet0", "52:54:00:00:00:01"]},
                                           {"concat": ["vnet1", "52:54:00:00:00:02"]}]}},
            {"chain": {"family": "bridge", "table": "guestwall", "name": "pre", "handle": 4, "type": "filter",
                       "hook": "prerouting", "prio": -300, "policy": "accept"}},
            {"chain": {"family": "bridge", "table": "guestwall", "name": "g", "handle": 5}},
        ]
    }  # fmt: skip
    table = parse_table("bridge", listing)
    want = actual_of(desired())[FAMILY]
    assert {n: s.decl for n, s in table.sets.items()} == {n: s.decl for n, s in want.sets.items()}
    assert {n: s.elements for n, s in table.sets.items()} == {n: s.elements for n, s in want.sets.items()}
    assert {n: c.decl for n, c in table.chains.items()} == {n: c.decl for n, c in want.chains.items()}
    assert isinstance(table, ActualTable)

