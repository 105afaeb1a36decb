"""Read our tables back from the kernel (``nft -j list table``) into the values the diff compares.

Chains and sets come back as the same declarations the commands carry (``nft.commands.Chain``,
``SetDecl``); rules are compared by the content digest each of our rules carries in its comment; set
elements are made canonical with compile.canon so they compare with what the compiler wants.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from guestwall.compile import canon, names
from guestwall.compile.ruleset import Ruleset, rule_digest
from guestwall.dataplane.backend import Backend, TerseMemo
from guestwall.errors import DataplaneError
from guestwall.nft.commands import BaseHook, Chain, Element, ListSets, ListTable, SetDecl, Table
from guestwall.nft.datatypes import DataType, parse_type


@dataclass
class ActualChain:
    decl: Chain
    digests: list[str] = field(default_factory=list)  # first word of each rule's comment ("" if none)


@dataclass
class ActualSet:
    decl: SetDecl
    elements: dict[Element, object] = field(default_factory=dict)


@dataclass
class ActualTable:
    family: str
    chains: dict[str, ActualChain] = field(default_factory=dict)
    sets: dict[str, ActualSet] = field(default_factory=dict)


def read_state(
    backend: Backend, terse: bool = False, families: tuple[str, ...] = names.FAMILIES
) -> dict[str, ActualTable]:
    """Our tables as they are in the kernel now (absent tables are missing from the result); ``terse``
    leaves set elements out, so reading costs what the rules cost, not what the ports do. ``families``:
    the filter tables by default; the network layer's are ``names.NET_FAMILIES``."""
    out: dict[str, ActualTable] = {}
    for family in families:
        what = ListTable(Table(family, names.TABLE))
        listing = backend.list_json(what, terse=True) if terse else backend.list_json(what)
        if listing is not None:
            out[family] = parse_table(family, listing)
    return out


def read_sets(backend: Backend) -> dict[str, ActualTable]:
    """Our tables' set and map declarations only (no rules, no elements): constant cost, two listings (sets,
    maps) of every family, ours picked out; or the backend's terse reading when nothing was committed
    since (it holds the chains too)."""
    remembered = _remembered(backend)
    if remembered is not None:
        return remembered
    tables = {family: ActualTable(family) for family in names.FAMILIES}
    for maps in (False, True):
        listing = backend.list_json(ListSets(None, maps), terse=True) or {}
        for obj in listing.get("nftables", []):
            s = obj.get("set") or obj.get("map")
            if s and s.get("table") == names.TABLE and s.get("family") in tables:
                family = s["family"]
                tables[family].sets[s["name"]] = ActualSet(set_decl(family, s))
    return {family: table for family, table in tables.items() if table.sets}


def read_terse(backend: Backend) -> dict[str, ActualTable]:
    """Our tables without set elements: chains with their rules' digests, set declarations. Through the
    backend's netlink chain reader when it has one (``dataplane.nlchains``: the cost follows the rules,
    not the ports), else a terse listing (libnftables still reads every element behind it)."""
    opener = getattr(backend, "chain_reader", None)
    try:
        reader = opener() if opener is not None else None
        if reader is not None:
            generation = reader.generation()
            memo: TerseMemo | None = getattr(backend, "terse", None)
            if memo is not None and memo.tables is not None and memo.generation == generation:
                return memo.tables  # nothing was committed since it was read
            dumped = {family: reader.chains(family) for family in names.FAMILIES}
            if all(chains is not None for chains in dumped.values()):  # else changed while dumped
                tables = read_sets(backend)
                out: dict[str, ActualTable] = {}
                for family, chains in dumped.items():
                    if chains or family in tables:
                        out[family] = tables.get(family) or ActualTable(family)
                        out[family].chains = chains or {}
                if memo is not None and reader.generation() == generation:  # else changed while read
                    memo.generation, memo.tables = generation, out
                return out
    except (DataplaneError, OSError):
        pass  # no netlink socket here (or a failed dump): libnftables' listing says the same
    return read_state(backend, terse=True)


def _remembered(backend: Backend) -> dict[str, ActualTable] | None:
    """The backend's terse reading if nothing was committed since it was made, else None."""
    memo: TerseMemo | None = getattr(backend, "terse", None)
    if memo is None or memo.tables is None:
        return None
    try:
        current = backend.chain_reader().generation()  # type: ignore[attr-defined]
    except (DataplaneError, OSError, AttributeError):
        return None
    return memo.tables if current == memo.generation else None


def _data_type(name: Any, table: Table, set_name: str) -> DataType:
    """A type name of the kernel's listing. One guestwall never declares means the set is not one of ours
    as we made it (someone changed our table by hand): refused by name, rather than compared or read as
    something it is not."""
    parsed = parse_type(name)
    if parsed is None:
        raise DataplaneError(
            f"set {table.family} {table.name} {set_name}: the kernel lists the data type {name!r}, which "
            f"guestwall never declares; delete that set (or the table) so that guestwall can declare it again"
        )
    return parsed


def set_decl(family: str, s: dict[str, Any]) -> SetDecl:
    """A set or map object of a JSON listing as its declaration (typeof is listed as the types it gives)."""
    table = Table(family, str(s.get("table", names.TABLE)))
    name = s["name"]
    listed = s["type"] if isinstance(s["type"], list) else [s["type"]]
    types = tuple(_data_type(t, table, name) for t in listed)
    map_type = _data_type(s["map"], table, name) if s.get("map") else None
    return SetDecl(table, name, types, None, tuple(s.get("flags", ())), map_type)


def _verdict(value: Any) -> object:
    if isinstance(value, dict):
        for kind in ("goto", "jump"):
            if kind in value:
                return (kind, value[kind]["target"])
        verdict = next(iter(value))
        return (verdict, None)
    return (str(value), None)


# a map's value by the map's type; others (marks) are numbers
_MAP_VALUE: dict[DataType, Callable[[Any], object]] = {
    DataType.VERDICT: _verdict,
    DataType.IPV4_ADDR: lambda v: canon.from_json(v, DataType.IPV4_ADDR),
    DataType.IPV6_ADDR: lambda v: canon.from_json(v, DataType.IPV6_ADDR),
}


def _map_value(value: Any, map_type: DataType) -> object:
    read = _MAP_VALUE.get(map_type)
    if read is not None:
        return read(value)
    return int(value) if not isinstance(value, str) else int(value, 0)


def _element(raw: Any, types: tuple[DataType, ...]) -> Element:
    if isinstance(raw, dict) and "elem" in raw:
        raw = raw["elem"]["val"]
    parts = raw["concat"] if isinstance(raw, dict) and "concat" in raw else [raw]
    return tuple(canon.from_json(p, t) for p, t in zip(parts, types, strict=True))


def parse_table(family: str, listing: dict[str, Any]) -> ActualTable:
    table = ActualTable(family)
    for obj in listing.get("nftables", []):
        if "chain" in obj:
            c = obj["chain"]
            base = (
                BaseHook(c["hook"], int(c["prio"]), c.get("policy", "accept"), c.get("type", "filter"))
                if "hook" in c
                else None
            )
            table.chains[c["name"]] = ActualChain(Chain(Table(family, c["table"]), c["name"], base))
        elif "rule" in obj:
            r = obj["rule"]
            chain = table.chains.setdefault(
                r["chain"], ActualChain(Chain(Table(family, r["table"]), r["chain"]))
            )
            comment = r.get("comment", "")
            chain.digests.append(comment.split(" ", 1)[0] if comment else "")
        elif "set" in obj or "map" in obj:
            s = obj.get("set") or obj["map"]
            decl = set_decl(family, s)
            types, map_type = decl.key_types, decl.map_type
            aset = ActualSet(decl)
            for raw in s.get("elem", ()):
                if map_type is not None:
                    key, value = raw
                    aset.elements[_element(key, types)] = _map_value(value, map_type)
                else:
                    aset.elements[_element(raw, types)] = None
            table.sets[s["name"]] = aset
    return table


def actual_of(ruleset: Ruleset) -> dict[str, ActualTable]:
    """What reading the kernel back gives after ``ruleset`` was applied (for pure tests, and for tools that
    know what they loaded)."""
    out = {}
    for family, table in ruleset.tables.items():
        actual = ActualTable(family)
        for name, chain in table.chains.items():
            actual.chains[name] = ActualChain(chain.decl(family), [rule_digest(r) for r in chain.rules])
        for name, spec in table.sets.items():
            decl = spec.decl(family)
            actual.sets[name] = ActualSet(
                SetDecl(decl.table, decl.name, decl.key_types, None, decl.flags, decl.map_type),
                dict(spec.elements),
            )
        out[family] = actual
    return out
