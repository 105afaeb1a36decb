"""Typed nftables commands: add / create / delete / flush of tables, chains, sets, maps, elements and rules.

A transaction is a tuple of commands, built by the dataplane's diff and the engine's plans, rendered once by
the backend (``nft.render``); the kernel read-back (``dataplane.state``) yields the same declaration values,
so the diff compares values, never text.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from guestwall.nft.datatypes import DataType
from guestwall.nft.ir import Expr, Rule

# A canonical element component: int, str (ifname or MAC), an ip address, or a (lo, hi) interval of those.
Component = object
Element = tuple[Component, ...]


@dataclass(frozen=True)
class Table:
    family: str
    name: str


@dataclass(frozen=True)
class BaseHook:
    hook: str
    priority: int
    policy: str = "accept"
    type: str = "filter"  # "nat" for the network layer's address translation chains


@dataclass(frozen=True)
class Chain:
    table: Table
    name: str
    base: BaseHook | None = None


@dataclass(frozen=True)
class SetDecl:
    """A set or map. Its key is ``type a . b``, or ``typeof`` expressions when a component has no type
    name (raw payload fields); ``map_type`` is the map's value type (verdict, mark, an address), or None for
    a plain set."""

    table: Table
    name: str
    key_types: tuple[DataType, ...]
    typeof: tuple[Expr, ...] | None = None
    flags: tuple[str, ...] = ()
    map_type: DataType | None = None

    @property
    def kind(self) -> str:
        return "map" if self.map_type is not None else "set"


@dataclass(frozen=True)
class Elements:
    """Elements of a set or map; ``value`` is the map value (None for sets): an int (mark) or a
    (verdict, chain) pair. Deleting takes the keys only."""

    set: SetDecl
    items: tuple[tuple[Element, object], ...]


@dataclass(frozen=True)
class ChainRule:
    chain: Chain
    rule: Rule


Object = Table | Chain | SetDecl | Elements | ChainRule


class Verb(enum.StrEnum):
    ADD = "add"
    CREATE = "create"  # as add, but an existing object is an error
    DELETE = "delete"
    FLUSH = "flush"
    INSERT = "insert"  # a rule at the top of a chain (only into other tools' chains: networks.doctor's fixes)


@dataclass(frozen=True)
class Command:
    verb: Verb
    obj: Object

    @property
    def kind(self) -> str:
        """``add rule``, ``delete element``, ... (what ``Transaction.counts`` counts)."""
        noun = {Table: "table", Chain: "chain", Elements: "element", ChainRule: "rule"}.get(type(self.obj))
        if noun is None:
            assert isinstance(self.obj, SetDecl)
            noun = self.obj.kind
        return f"{self.verb.value} {noun}"


def add(obj: Object) -> Command:
    return Command(Verb.ADD, obj)


def delete(obj: Object) -> Command:
    return Command(Verb.DELETE, obj)


def flush(obj: Table | Chain | SetDecl) -> Command:
    return Command(Verb.FLUSH, obj)


@dataclass(frozen=True)
class Transaction:
    """Commands run as one atomic batch; empty means nothing to change."""

    commands: tuple[Command, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.commands)

    def __add__(self, other: Transaction) -> Transaction:
        return Transaction(self.commands + other.commands)

    def text(self) -> str:
        """The batch in nft syntax (what ``apply --dry-run`` prints and tests read)."""
        from guestwall.nft.render import render_transaction

        return render_transaction(self)

    def rules_added(self) -> int:
        return sum(1 for c in self.commands if c.verb is Verb.ADD and isinstance(c.obj, ChainRule))

    def counts(self) -> dict[str, int]:
        """How many commands of each kind (``add rule``, ``delete element`` ...): the size of a change."""
        out: dict[str, int] = {}
        for cmd in self.commands:
            out[cmd.kind] = out.get(cmd.kind, 0) + 1
        return out


def transaction(commands: Iterable[Command]) -> Transaction:
    return Transaction(tuple(commands))


# ---- what can be listed --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListTable:
    table: Table


@dataclass(frozen=True)
class ListSet:
    table: Table
    name: str
    map: bool = False


@dataclass(frozen=True)
class ListSets:
    """Every set (or map) declaration of a family (None: of every family)."""

    family: str | None
    maps: bool = False


@dataclass(frozen=True)
class ListRuleset:
    """Every table, ours and others' (for checks of coexistence with other tools)."""


Listing = ListTable | ListSet | ListSets | ListRuleset
