"""The desired kernel state: our two tables with their chains, rules, sets and maps, as plain data.

The compiler produces a Ruleset; the dataplane reads the kernel into the same shape and diffs the two.
Set elements are canonical Python values (see ``canon``), so both sides compare exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from guestwall.compile import nftir as ir
from guestwall.compile.names import short_hash

# A canonical element component: int, str (ifname or MAC), an ip address, or a (lo, hi) interval of those.
Component = object
Element = tuple[Component, ...]


@dataclass(frozen=True)
class BaseHook:
    hook: str
    priority: int
    policy: str = "accept"
    type: str = "filter"  # "nat" for the network layer's address translation chains


@dataclass
class ChainSpec:
    name: str
    rules: list[ir.Rule] = field(default_factory=list)
    base: BaseHook | None = None


def rule_digest(rule: ir.Rule) -> str:
    """The content hash we keep in each rule's comment, so a kernel chain can be compared cheaply."""
    return short_hash(" ".join(s.render() for s in rule.statements), length=10)


@dataclass
class SetSpec:
    """A set or map. ``key`` is the declaration's key: ``type a . b`` parts, or ``typeof`` expressions."""

    name: str
    key_types: tuple[str, ...]  # nft type names; "integer" where only typeof can declare the component
    typeof: tuple[str, ...] | None = None  # rendered expressions, when any component needs typeof
    flags: tuple[str, ...] = ()
    map_type: str | None = None  # "verdict", "mark", or None for a plain set
    elements: dict[Element, object] = field(default_factory=dict)  # element -> map value (None for sets)

    def declaration(self) -> str:
        if self.typeof is not None:
            key = "typeof " + " . ".join(self.typeof)
        else:
            key = "type " + " . ".join(self.key_types)
        if self.map_type:
            key += f" : {self.map_type}"
        flags = f" flags {', '.join(self.flags)};" if self.flags else ""
        return f"{key};{flags}"

    @property
    def kind(self) -> str:
        return "map" if self.map_type else "set"


@dataclass
class TableSpec:
    family: str
    name: str
    chains: dict[str, ChainSpec] = field(default_factory=dict)
    sets: dict[str, SetSpec] = field(default_factory=dict)


@dataclass
class Ruleset:
    tables: dict[str, TableSpec] = field(default_factory=dict)  # by family

    def table(self, family: str) -> TableSpec:
        return self.tables[family]
