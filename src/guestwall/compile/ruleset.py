"""The desired kernel state: our two tables with their chains, rules, sets and maps, as plain data.

The compiler produces a Ruleset; the dataplane reads the kernel's declarations into the same values
(``nft.commands``) and diffs the two. Set elements are canonical Python values (see ``canon``), so both
sides compare exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from guestwall.compile.names import TABLE, short_hash
from guestwall.nft import ir
from guestwall.nft.commands import BaseHook, Chain, Component, Element, SetDecl, Table
from guestwall.nft.datatypes import DataType
from guestwall.nft.render import statements

__all__ = [
    "BaseHook",
    "ChainSpec",
    "Component",
    "DataType",
    "Element",
    "Ruleset",
    "SetSpec",
    "TableSpec",
    "rule_digest",
]


@dataclass
class ChainSpec:
    name: str
    rules: list[ir.Rule] = field(default_factory=list)
    base: BaseHook | None = None

    def decl(self, family: str) -> Chain:
        return Chain(Table(family, TABLE), self.name, self.base)


def rule_digest(rule: ir.Rule) -> str:
    """The content hash we keep in each rule's comment, so a kernel chain can be compared cheaply. Taken
    over the rule's nft form: two rules are the same exactly when the kernel gets the same statements."""
    return _digest(rule.statements)


@lru_cache(maxsize=1 << 14)
def _digest(stmts: tuple[ir.Statement, ...]) -> str:
    # remembered by value: a group's rules are digested on every compile and every diff
    return short_hash(statements(stmts), length=10)


@dataclass
class SetSpec:
    """A set or map with its elements (see ``nft.commands.SetDecl`` for the declaration's fields)."""

    name: str
    key_types: tuple[DataType, ...]  # INTEGER where only typeof can declare the component
    typeof: tuple[ir.Expr, ...] | None = None  # when any component needs typeof
    flags: tuple[str, ...] = ()
    map_type: DataType | None = None  # the map's value type, or None for a plain set
    elements: dict[Element, object] = field(default_factory=dict)  # element -> map value (None for sets)

    def decl(self, family: str) -> SetDecl:
        table = Table(family, TABLE)
        return SetDecl(table, self.name, self.key_types, self.typeof, self.flags, self.map_type)

    @property
    def kind(self) -> str:
        return "map" if self.map_type is not None else "set"


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
