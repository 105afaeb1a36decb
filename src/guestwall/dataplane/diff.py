"""desired ruleset + actual kernel state -> the smallest transaction that makes them equal, as typed commands.

Unchanged state gives an empty transaction. A changed chain is flushed and refilled, set elements are
added and deleted one by one, and commands are ordered so that nothing is deleted while still referenced.
Only our own tables appear in the transaction.
"""

from __future__ import annotations

from guestwall.compile import names
from guestwall.compile.ruleset import ChainSpec, Element, Ruleset, SetSpec, TableSpec, rule_digest
from guestwall.dataplane.state import ActualTable
from guestwall.nft import ir
from guestwall.nft.commands import (
    ChainRule,
    Command,
    Elements,
    SetDecl,
    Table,
    Transaction,
    add,
    delete,
    flush,
    transaction,
)
from guestwall.nft.datatypes import DataType

__all__ = [
    "Transaction",
    "chain_decl",
    "decl_matches",
    "diff",
    "element_cmds",
    "port_additions",
    "port_removals",
    "rule_cmds",
]


def chain_decl(family: str, chain: ChainSpec) -> Command:
    return add(chain.decl(family))


def rule_cmds(family: str, chain: ChainSpec) -> list[Command]:
    decl = chain.decl(family)
    return [add(ChainRule(decl, r)) for r in chain.rules]


def element_cmds(
    verb: str, family: str, spec: SetSpec, elems: dict[Element, object], chunk: int = 500
) -> list[Command]:
    """``add`` or ``delete`` elements, sorted, ``chunk`` to a command (each command is one netlink message
    per chunk in libnftables; huge single commands are slow to parse)."""
    items = [(e, elems[e]) for e in sorted(elems, key=repr)]
    decl = spec.decl(family)
    make = add if verb == "add" else delete
    return [make(Elements(decl, tuple(items[i : i + chunk]))) for i in range(0, len(items), chunk)]


# nft 1.0.6 lists a dynamic set's "flags dynamic" in text but leaves it out of its JSON listing
_UNLISTED_FLAGS = frozenset({"dynamic"})


# typeof is listed as the types its expressions have: a component the compiler declares as a plain number
# comes back under its expression's own type when it has one (``ip dscp``, ``arp operation``)
_LISTED_AS_INTEGER = frozenset({DataType.DSCP, DataType.ARP_OP})


def _key_matches(spec: SetSpec, actual: tuple[DataType, ...]) -> bool:
    if actual == spec.key_types:
        return True
    if spec.typeof is None or len(actual) != len(spec.key_types):
        return False
    return all(
        a is w or (w is DataType.INTEGER and a in _LISTED_AS_INTEGER)
        for a, w in zip(actual, spec.key_types, strict=True)
    )


def decl_matches(spec: SetSpec, actual: SetDecl) -> bool:
    """Whether the kernel's declaration is the one wanted (typeof is not listed: its types are)."""
    return (
        _key_matches(spec, actual.key_types)
        and set(actual.flags) - _UNLISTED_FLAGS == set(spec.flags) - _UNLISTED_FLAGS
        and actual.map_type == spec.map_type
    )


def _refers_to(rule: ir.Rule, sets: set[str]) -> bool:
    """Whether a rule names one of ``sets`` (a lookup, a verdict map, a mark map, a dynamic set)."""
    for s in rule.statements:
        if isinstance(s, ir.Match) and isinstance(s.right, ir.SetRef) and s.right.name in sets:
            return True
        if isinstance(s, ir.VMap) and s.map in sets:
            return True
        if isinstance(s, ir.SetMark) and s.map in sets:
            return True
        if isinstance(s, ir.CtCountOver) and s.set in sets:
            return True
    return False


def diff(desired: Ruleset, actual: dict[str, ActualTable]) -> Transaction:
    out: list[Command] = []
    for family, table in desired.tables.items():
        _diff_table(family, table, actual.get(family), out)
    return transaction(out)


def _diff_table(family: str, want: TableSpec, have: ActualTable | None, out: list[Command]) -> None:
    table = Table(family, names.TABLE)
    if have is None:
        out.append(add(table))
        have = ActualTable(family)
    recreate_sets = {
        n for n, s in want.sets.items() if n in have.sets and not decl_matches(s, have.sets[n].decl)
    }
    drop_sets = (set(have.sets) - set(want.sets)) | recreate_sets
    new_chains = [c for n, c in want.chains.items() if n not in have.chains]
    rebase = {n for n, c in want.chains.items() if n in have.chains and have.chains[n].decl.base != c.base}
    changed = {
        n
        for n, c in want.chains.items()
        if n in have.chains
        and (
            n in rebase
            or [rule_digest(r) for r in c.rules] != have.chains[n].digests
            or any(_refers_to(r, drop_sets) for r in c.rules)
        )
    }
    gone_chains = set(have.chains) - set(want.chains)
    # 1. new chains and sets
    out += [chain_decl(family, c) for c in new_chains]
    out += [add(s.decl(family)) for n, s in want.sets.items() if n not in have.sets]
    # 2. elements that go away (before the chains they point to)
    for name, spec in want.sets.items():
        if name in have.sets and name not in recreate_sets:
            old = have.sets[name].elements
            stale = {e: v for e, v in old.items() if e not in spec.elements or spec.elements[e] != v}
            if stale:
                out += element_cmds("delete", family, spec, stale)
    # 3. empty what changes or goes, then delete
    out += [flush(have.chains[n].decl) for n in sorted(changed | gone_chains)]
    out += [delete(have.chains[n].decl) for n in sorted(rebase)]
    out += [delete(have.chains[n].decl) for n in sorted(gone_chains)]
    out += [delete(have.sets[n].decl) for n in sorted(drop_sets)]
    # 4. recreate, refill
    out += [chain_decl(family, want.chains[n]) for n in sorted(rebase)]
    out += [add(want.sets[n].decl(family)) for n in sorted(recreate_sets)]
    for chain in [*new_chains, *(want.chains[n] for n in sorted(changed))]:
        out += rule_cmds(family, chain)
    for name, spec in want.sets.items():
        old_elems = {} if name not in have.sets or name in recreate_sets else have.sets[name].elements
        missing = {e: v for e, v in spec.elements.items() if e not in old_elems or old_elems[e] != v}
        if missing:
            out += element_cmds("add", family, spec, missing)


def port_additions(
    part: Ruleset, existing: dict[str, ActualTable], keys: dict[str, object], asserted: set[tuple[str, str]]
) -> list[Command] | None:
    """Adding one port without reading anyone's set elements: ``part`` is the ruleset compiled for that port
    alone, ``existing`` a terse listing of our tables (chains with their rules' digests, set declarations,
    no elements: its cost follows the rules, not the ports).

    Only what the kernel lacks is sent: the port's chains (its group's, shared) that are missing are added
    and filled, those whose rules differ from the wanted ones (by the digests in their comments, as the full
    diff compares them) are flushed and refilled, equal ones are left alone; set declarations the kernel
    lacks are added; the port's own elements (those whose first component is its key) are added, and an
    address set new to the kernel gets everything it holds. An existing map element with another value
    makes the kernel refuse. ``asserted``: chains (family, name) already handled in this transaction by
    another port, updated. None when only a full apply can do it (a table is missing, a set is declared
    otherwise, a base chain hooks elsewhere)."""
    decls: list[Command] = []
    chains: list[Command] = []
    flushes: list[Command] = []
    rules: list[Command] = []
    elements: list[Command] = []
    for family, table in part.tables.items():
        have = existing.get(family)
        if have is None:
            return None
        for chain in table.chains.values():
            if (family, chain.name) in asserted:
                continue
            asserted.add((family, chain.name))
            actual = have.chains.get(chain.name)
            if actual is None:
                chains.append(chain_decl(family, chain))
            elif actual.decl.base != chain.base:
                return None  # the full diff recreates it
            elif actual.digests == [rule_digest(r) for r in chain.rules]:
                continue
            else:
                flushes.append(flush(chain.decl(family)))
            rules += rule_cmds(family, chain)
        for name, spec in table.sets.items():
            declared = have.sets.get(name)
            if declared is None:
                decls.append(add(spec.decl(family)))
                mine = spec.elements  # a set new to the kernel: everything it holds
            elif not decl_matches(spec, declared.decl):
                return None  # the full diff recreates it
            else:
                mine = {e: v for e, v in spec.elements.items() if e and e[0] == keys[family]}
            if mine:
                elements += element_cmds("add", family, spec, mine)
    # declarations before the rules that name them; elements (verdicts jump to chains) last
    return [*decls, *chains, *flushes, *rules, *elements]


def port_removals(part: Ruleset, keys: dict[str, object]) -> list[Command]:
    """Deleting one port's elements (dispatch, marks, per-port values); its shared chains stay."""
    out: list[Command] = []
    for family, table in part.tables.items():
        for spec in table.sets.values():
            mine = {e: v for e, v in spec.elements.items() if e and e[0] == keys[family]}
            if mine:
                out += element_cmds("delete", family, spec, mine)
    return out
