"""desired ruleset + actual kernel state -> the smallest transaction that makes them equal.

Unchanged state gives an empty transaction. A changed chain is flushed and refilled, set elements are
added and deleted one by one, and commands are ordered so that nothing is deleted while still referenced.
Only our own tables appear in the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from guestwall.compile import canon, names
from guestwall.compile.ruleset import ChainSpec, Element, Ruleset, SetSpec, TableSpec, rule_digest
from guestwall.dataplane.state import ActualSet, ActualTable


@dataclass
class Transaction:
    commands: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.commands)

    def text(self) -> str:
        return "\n".join(self.commands) + ("\n" if self.commands else "")

    def counts(self) -> dict[str, int]:
        """How many commands of each kind (``add rule``, ``delete element`` ...): the size of a change."""
        out: dict[str, int] = {}
        for cmd in self.commands:
            verb = " ".join(cmd.split()[:2])
            out[verb] = out.get(verb, 0) + 1
        return out


def chain_decl(family: str, chain: ChainSpec) -> str:
    head = f"add chain {family} {names.TABLE} {chain.name}"
    if chain.base is None:
        return head
    b = chain.base
    return f"{head} {{ type filter hook {b.hook} priority {b.priority}; policy {b.policy}; }}"


def _value_text(value: object, map_type: str | None) -> str:
    if map_type == "verdict":
        assert isinstance(value, tuple)
        verdict, chain = value
        return f"{verdict} {chain}" if chain else str(verdict)
    return hex(value) if isinstance(value, int) else str(value)


def _elements_text(
    spec_types: tuple[str, ...], elems: dict[Element, object], map_type: str | None
) -> list[str]:
    out = []
    for elem in sorted(elems, key=repr):
        key = " . ".join(canon.render(c, t) for c, t in zip(elem, spec_types, strict=True))
        out.append(f"{key} : {_value_text(elems[elem], map_type)}" if map_type else key)
    return out


def element_cmds(
    verb: str, family: str, spec: SetSpec, elems: dict[Element, object], chunk: int = 500
) -> list[str]:
    texts = _elements_text(spec.key_types, elems, spec.map_type)
    where = f"{family} {names.TABLE} {spec.name}"
    if verb == "delete":  # deleting a map element takes its key only
        texts = [t.split(" : ")[0] for t in texts]
    return [
        f"{verb} element {where} {{ {', '.join(texts[i : i + chunk])} }}" for i in range(0, len(texts), chunk)
    ]


# nft 1.0.6 lists a dynamic set's "flags dynamic" in text but leaves it out of its JSON listing
_UNLISTED_FLAGS = frozenset({"dynamic"})


def decl_matches(spec: SetSpec, actual: ActualSet) -> bool:
    return (
        actual.key_types == spec.key_types
        and set(actual.flags) - _UNLISTED_FLAGS == set(spec.flags) - _UNLISTED_FLAGS
        and (actual.map_type or None) == spec.map_type
    )


def diff(desired: Ruleset, actual: dict[str, ActualTable]) -> Transaction:
    tx = Transaction()
    for family, table in desired.tables.items():
        _diff_table(family, table, actual.get(family), tx)
    return tx


def _diff_table(family: str, want: TableSpec, have: ActualTable | None, tx: Transaction) -> None:
    if have is None:
        tx.commands.append(f"add table {family} {names.TABLE}")
        have = ActualTable(family)
    where = f"{family} {names.TABLE}"
    recreate_sets = {n for n, s in want.sets.items() if n in have.sets and not decl_matches(s, have.sets[n])}
    drop_sets = (set(have.sets) - set(want.sets)) | recreate_sets
    new_chains = [c for n, c in want.chains.items() if n not in have.chains]
    rebase = {n for n, c in want.chains.items() if n in have.chains and have.chains[n].base != c.base}
    changed = {
        n
        for n, c in want.chains.items()
        if n in have.chains
        and (
            n in rebase
            or [rule_digest(r) for r in c.rules] != have.chains[n].digests
            or any(f"@{s}" in r.render() for s in drop_sets for r in c.rules)
        )
    }
    gone_chains = set(have.chains) - set(want.chains)
    # 1. new chains and sets
    tx.commands += [chain_decl(family, c) for c in new_chains]
    tx.commands += [
        f"add {s.kind} {where} {s.name} {{ {s.declaration()} }}"
        for n, s in want.sets.items()
        if n not in have.sets
    ]
    # 2. elements that go away (before the chains they point to)
    for name, spec in want.sets.items():
        if name in have.sets and name not in recreate_sets:
            old = have.sets[name].elements
            stale = {e: v for e, v in old.items() if e not in spec.elements or spec.elements[e] != v}
            if stale:
                tx.commands += element_cmds("delete", family, spec, stale)
    # 3. empty what changes or goes, then delete
    tx.commands += [f"flush chain {where} {n}" for n in sorted(changed | gone_chains)]
    tx.commands += [f"delete chain {where} {n}" for n in sorted(rebase)]
    for n in sorted(gone_chains):
        tx.commands.append(f"delete chain {where} {n}")
    for n in sorted(drop_sets):
        kind = "map" if have.sets[n].map_type else "set"
        tx.commands.append(f"delete {kind} {where} {n}")
    # 4. recreate, refill
    tx.commands += [chain_decl(family, want.chains[n]) for n in sorted(rebase)]
    tx.commands += [
        f"add {want.sets[n].kind} {where} {n} {{ {want.sets[n].declaration()} }}"
        for n in sorted(recreate_sets)
    ]
    for chain in [*new_chains, *(want.chains[n] for n in sorted(changed))]:
        tx.commands += [f"add rule {where} {chain.name} {r.render()}" for r in chain.rules]
    for name, spec in want.sets.items():
        old_elems = {} if name not in have.sets or name in recreate_sets else have.sets[name].elements
        missing = {e: v for e, v in spec.elements.items() if e not in old_elems or old_elems[e] != v}
        if missing:
            tx.commands += element_cmds("add", family, spec, missing)


def port_additions(
    part: Ruleset, sets: dict[str, ActualTable], keys: dict[str, object], asserted: set[tuple[str, str]]
) -> Transaction | None:
    """Adding one port without reading anyone's rules or elements: ``part`` is the ruleset compiled for that
    port alone, ``sets`` a terse listing of the kernel's sets (cheap whatever the number of ports).

    The port's chains (its group's, shared) are re-asserted with the same content (added if missing,
    flushed and refilled: constant size), its set declarations added (a different existing declaration
    makes the kernel refuse), its own elements added (those whose first component is its key; an existing
    map element with another value makes the kernel refuse), and address sets filled only if they are new.
    None when only a full apply can do it (a table is missing)."""
    tx = Transaction()
    for family, table in part.tables.items():
        have = sets.get(family)
        if have is None:
            return None
        where = f"{family} {names.TABLE}"
        for chain in table.chains.values():
            if (family, chain.name) in asserted:
                continue
            asserted.add((family, chain.name))
            tx.commands.append(chain_decl(family, chain))
            tx.commands.append(f"flush chain {where} {chain.name}")
            tx.commands += [f"add rule {where} {chain.name} {r.render()}" for r in chain.rules]
        for name, spec in table.sets.items():
            tx.commands.insert(0, f"add {spec.kind} {where} {name} {{ {spec.declaration()} }}")
            if name in have.sets:
                mine = {e: v for e, v in spec.elements.items() if e and e[0] == keys[family]}
            else:
                mine = spec.elements  # a set new to the kernel: everything it holds
            if mine:
                tx.commands += element_cmds("add", family, spec, mine)
    return tx


def port_removals(part: Ruleset, keys: dict[str, object]) -> Transaction:
    """Deleting one port's elements (dispatch, marks, per-port values); its shared chains stay."""
    tx = Transaction()
    for family, table in part.tables.items():
        for spec in table.sets.values():
            mine = {e: v for e, v in spec.elements.items() if e and e[0] == keys[family]}
            if mine:
                tx.commands += element_cmds("delete", family, spec, mine)
    return tx
