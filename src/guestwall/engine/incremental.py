"""The engine's incremental plans: filter edits, ports that come and go, address-set deltas, as one
transaction built against terse listings of the kernel (no rules, no elements read back).

A filter edit changes the chains of the groups (top filter + provided variable names) whose tree holds
it; every port of a group shares them, so the edit is planned once per group with one representative
binding and the transaction rewrites only the chains that differ. A port that goes deletes its own set
elements; a port that comes adds its own and only those of its group's chains that the kernel lacks or holds
otherwise (by a listing of our chains and their rules' digests, taken inside the lock: what the full diff
compares, without the elements). An address-set change is a set-element delta. Every plan
returns None when only the full path can do it (per-port chains, values no set holds yet, a kernel that is
not as expected); the engine then applies everything. Nothing here takes a lock or runs a transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from guestwall.compile import canon, names
from guestwall.compile.compiler import Compiled, Options, PortInput, compile_ruleset
from guestwall.compile.ruleset import ChainSpec, Element, Ruleset, SetSpec, TableSpec, rule_digest
from guestwall.dataplane.backend import Backend
from guestwall.dataplane.diff import (
    chain_decl,
    decl_matches,
    element_cmds,
    port_additions,
    port_removals,
    rule_cmds,
)
from guestwall.dataplane.state import ActualTable, parse_table
from guestwall.engine import memo
from guestwall.engine.desired import BoundPort, port_program
from guestwall.errors import InstantiationError
from guestwall.instantiate.tree import reachable_filters
from guestwall.instantiate.variables import MissingVariables
from guestwall.model import AddressSet, Filter
from guestwall.nft.commands import (
    Command,
    Elements,
    ListSet,
    Table,
    Transaction,
    Verb,
    add,
    delete,
    flush,
)
from guestwall.nft.datatypes import address_type
from guestwall.store.records import BindingRecord, Reader


def _groups(reader: Reader, tops: list[str]) -> dict[tuple[str, str], BindingRecord] | None:
    """One representative binding per group (top filter, parameter names) of the bindings of ``tops``;
    None if one of them learns its address (its group changes with what it learns)."""
    groups = {(g.filter, g.params): g.record for g in reader.binding_groups(tops)}
    for device in {a.portdev for a in reader.learned_addresses()}:
        record = reader.binding(device)
        if record is not None and record.filter in tops:
            return None
    return groups


def _compile_one(
    filters: Mapping[str, Filter], record: BindingRecord, sets: Mapping[str, AddressSet], options: Options
) -> Compiled:
    return memo.compiled_alone(filters, record.binding, record.port_id, sets, options)


def _group_chains(table: TableSpec) -> dict[str, ChainSpec]:
    return {n: c for n, c in table.chains.items() if c.base is None}


@dataclass(frozen=True)
class FilterPlan:
    """The chains a filter edit rewrites: per family, the groups' chains before and after."""

    before: dict[str, TableSpec]
    after: dict[str, TableSpec]


def plan_filter_change(
    reader: Reader,
    old: Mapping[str, Filter],
    new: Mapping[str, Filter],
    address_sets: Mapping[str, AddressSet],
    options: Options,
) -> FilterPlan | None:
    """Plan new filter definitions for the bound groups they touch (no kernel access); an empty plan when
    no binding uses them.

    Raises InstantiationError naming a binding when a group cannot be instantiated with the new
    definitions; None when only a full apply can do it.
    """
    changed = {n for n in old.keys() | new.keys() if old.get(n) != new.get(n)}
    # the top filters that reach an edited one, from the definitions; the store says which are bound
    tops = sorted(
        t
        for t in old.keys() | new.keys()
        if changed & (reachable_filters(old, [t]) | reachable_filters(new, [t]))
    )
    groups = _groups(reader, tops) if tops else {}
    if groups is None:
        return None
    plan = FilterPlan({}, {})
    for (top, _), record in sorted(groups.items(), key=lambda kv: kv[1].portdev):
        portdev = record.portdev
        was: Compiled | None = None
        if top in old:  # a top filter new with this change (a new group) had no chains before
            try:
                was = _compile_one(old, record, address_sets, options)
            except InstantiationError:
                return None  # the kernel may not hold what the old definitions say
        try:
            now = _compile_one(new, record, address_sets, options)
        except MissingVariables as e:
            if e.missing == ["IP"]:
                return None  # the port would learn its address: the full path gives it interim rules
            raise InstantiationError(f"binding {portdev}: {e}") from e
        except InstantiationError as e:
            raise InstantiationError(f"binding {portdev}: {e}") from e
        if (was is not None and was.fallbacks) or now.fallbacks:
            return None  # per-port chains: every port must be recomputed
        for family in names.FAMILIES:
            before = plan.before.setdefault(family, TableSpec(family, names.TABLE))
            if was is not None:
                before.chains.update(_group_chains(was.ruleset.table(family)))
                before.sets.update(was.ruleset.table(family).sets)
            table = plan.after.setdefault(family, TableSpec(family, names.TABLE))
            table.chains.update(_group_chains(now.ruleset.table(family)))
            table.sets.update(now.ruleset.table(family).sets)
    return plan


def transaction(
    reader: Reader,
    backend: Backend,
    existing: dict[str, ActualTable],
    *,
    filters: FilterPlan | None = None,
    removed: Sequence[Part] = (),
    added: Sequence[Part] = (),
    sets: Sequence[str] = (),
    retired: Sequence[Part] = (),
    previous: Mapping[str, AddressSet] | None = None,
    lagging: frozenset[str] = frozenset(),
) -> Transaction | None:
    """One transaction for a filter edit, ports that go (their old share of the ruleset), ports that come
    and address sets to bring in step; ``existing`` is the terse listing of the kernel's set declarations.
    ``retired`` are parts of groups no port uses any more: their chains are deleted; ``previous`` are the
    address sets as they were before the change (their deltas then need no listing). None when only a full
    apply can do it (the kernel is not as expected)."""
    out: list[Command] = []
    asserted: set[tuple[str, str]] = set()  # chains written already: ports that come leave them alone
    if filters is not None:
        for family, table in filters.after.items():
            if not _chain_changes(family, filters.before[family], table, existing.get(family), out, asserted):
                return None
    for part in removed:
        out += port_removals(part.ruleset, part.keys)
    keep = {c for part in added for t in part.ruleset.tables.values() for c in t.chains}
    for part in retired:
        out += _retire_chains(part.ruleset, keep)
    for part in added:
        more = port_additions(part.ruleset, existing, part.keys, asserted)
        if more is None:
            return None
        out += more
    names_ = sorted(set(sets))
    if names_:
        delta = _address_set_delta(reader, names_, backend, existing, previous, lagging)
        if delta is None:
            return None
        out += delta
    return Transaction(tuple(_without_readded(out)))


def _without_readded(commands: list[Command]) -> list[Command]:
    """The commands without deletions of elements that a later command adds back unchanged (a port moving
    between groups keeps its per-port values). The add alone leaves the element as it is, or puts it back
    if someone removed it; the delete would cost the kernel a lookup per element in interval
    concatenations (about 7 ms per element at 1000 ports on this kernel)."""
    later: dict[tuple[Table, str], set[tuple[Element, object]]] = {}  # added by a command after this one
    out: list[Command] = []
    for cmd in reversed(commands):
        obj = cmd.obj
        if isinstance(obj, Elements):
            key = (obj.set.table, obj.set.name)
            if cmd.verb is Verb.ADD:
                later.setdefault(key, set()).update(obj.items)
            elif cmd.verb is Verb.DELETE and key in later:
                items = tuple(i for i in obj.items if i not in later[key])
                if not items:
                    continue
                cmd = delete(Elements(obj.set, items))
        out.append(cmd)
    out.reverse()
    return out


def _chain_changes(
    family: str,
    was: TableSpec,
    now: TableSpec,
    have: ActualTable | None,
    out: list[Command],
    written: set[tuple[str, str]],
) -> bool:
    """Commands for a family's changed group chains, into ``out`` (declarations first), the chains they
    write into ``written``; False when only a full apply can do it."""
    if have is None or was.sets.keys() - now.sets.keys():
        # sets the groups no longer use may be unused by anyone: the full path deletes exactly those
        return False
    for name, spec in now.sets.items():
        if name in have.sets:
            if not decl_matches(spec, have.sets[name].decl):
                return False
        elif name.startswith("v."):
            return False  # new per-port values: every port contributes
        else:  # connlimit sets start empty; address sets hold what the store says
            out.insert(0, add(spec.decl(family)))
            if spec.elements:
                out += element_cmds("add", family, spec, spec.elements)
    gone = [c for n, c in was.chains.items() if n not in now.chains]
    new = [c for n, c in now.chains.items() if n not in was.chains]
    edited = [c for n, c in now.chains.items() if n in was.chains and _digests(c) != _digests(was.chains[n])]
    written.update((family, c.name) for c in new + edited)
    out[:0] = [chain_decl(family, c) for c in new]
    out += [flush(c.decl(family)) for c in edited] + [flush(c.decl(family)) for c in gone]
    out += [delete(c.decl(family)) for c in gone]
    for chain in new + edited:
        out += rule_cmds(family, chain)
    return True


def _retire_chains(part: Ruleset, keep: set[str]) -> list[Command]:
    """Delete a group's chains (not the base chains, not chains still wanted): flushed first, then
    deleted, so jumps between them never block a delete."""
    out: list[Command] = []
    for family, table in part.tables.items():
        gone = [c.decl(family) for n, c in table.chains.items() if c.base is None and n not in keep]
        out += [flush(c) for c in gone]
        out += [delete(c) for c in gone]
    return out


def _digests(chain: ChainSpec) -> list[str]:
    return [rule_digest(r) for r in chain.rules]


def _address_set_delta(
    reader: Reader,
    changed: Sequence[str],
    backend: Backend,
    existing: dict[str, ActualTable],
    previous: Mapping[str, AddressSet] | None,
    lagging: frozenset[str] = frozenset(),
) -> list[Command] | None:
    """Element deltas for address sets. A set this transaction wrote (and the kernel does not lag) has its
    change from the store (``Reader.address_set_delta``); with ``previous`` (the sets as the store held them
    before this change, and so the kernel) nothing is read back either: a 10,000-block set costs what the
    change costs; a kernel that is not as expected makes the transaction fail and the caller apply
    everything."""
    known = {n: d for n in changed if n not in lagging and (d := reader.address_set_delta(n)) is not None}
    unknown = [n for n in changed if n not in known]
    wanted = {a.name: a for a in reader.address_sets(unknown)} if unknown else {}
    declared = existing.get(names.INET)
    out: list[Command] = []
    for name in changed:
        for family in (4, 6):
            set_name = names.ipset_set(name, f"v{family}")
            spec = SetSpec(set_name, (address_type(family),), None, ("interval",))
            if declared is None or set_name not in declared.sets:
                continue  # no rule refers to it: nothing in the kernel to keep in step
            if not decl_matches(spec, declared.sets[set_name].decl):
                return None
            if name in known:
                added, removed = known[name].of_family(family)
                if removed:
                    out += element_cmds(
                        "delete", names.INET, spec, {(canon.network(n),): None for n in removed}
                    )
                if added:
                    out += element_cmds("add", names.INET, spec, {(canon.network(n),): None for n in added})
                continue
            if previous is not None and name in previous:
                before = previous[name].of_family(family)
                actual_elements: dict[Element, object] = {(canon.network(n),): None for n in before}
            else:
                listing = backend.list_json(ListSet(Table(names.INET, names.TABLE), set_name))
                actual = parse_table(names.INET, listing).sets.get(set_name) if listing else None
                if actual is None:
                    return None
                actual_elements = actual.elements
            aset = wanted.get(name, AddressSet(name))
            desired: dict[Element, object] = {(canon.network(n),): None for n in aset.of_family(family)}
            stale = {e: v for e, v in actual_elements.items() if e not in desired}
            missing = {e: v for e, v in desired.items() if e not in actual_elements}
            if stale:
                out += element_cmds("delete", names.INET, spec, stale)
            if missing:
                out += element_cmds("add", names.INET, spec, missing)
    return out


@dataclass(frozen=True)
class Part:
    """One port's share of the ruleset, compiled for that port alone, and its key in each table."""

    ruleset: Ruleset
    keys: dict[str, object]


def port_part(
    port: BoundPort, filters: Mapping[str, Filter], address_sets: Mapping[str, AddressSet], options: Options
) -> Part:
    """One bound port compiled alone (``filters`` holds at least its filter tree)."""
    try:
        program = port_program(port, filters)
    except InstantiationError as e:
        raise InstantiationError(f"binding {port.record.portdev}: {e}") from e
    compiled = compile_ruleset([PortInput(program, port.record.port_id)], options, address_sets)
    keys: dict[str, object] = {
        names.BRIDGE: port.record.portdev,
        names.INET: names.port_mark(port.record.port_id),
    }
    return Part(compiled.ruleset, keys)
