"""The typed, immutable model of libvirt's filter language: filters, rules, protocol matches, references.

First stage of the pipeline: the nwfilter XML layer produces these, instantiation consumes them. No I/O here.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address
from uuid import UUID

from guestwall.model.mac import MacAddress


class Action(enum.StrEnum):
    DROP = "drop"
    ACCEPT = "accept"
    REJECT = "reject"
    RETURN = "return"
    CONTINUE = "continue"


class Direction(enum.StrEnum):
    """Seen from the guest: OUT = sent by it, IN = delivered to it."""

    IN = "in"
    OUT = "out"
    INOUT = "inout"


class DataType(enum.IntEnum):
    """libvirt's attribute datatypes, in the bit order in which parsing tries them (decimal before hex)."""

    UINT16 = 0
    UINT8 = 1
    UINT16_HEX = 2
    UINT8_HEX = 3
    MACADDR = 4
    MACMASK = 5
    IPADDR = 6
    IPMASK = 7
    STRING = 8
    IPV6ADDR = 9
    IPV6MASK = 10
    STRINGCOPY = 11
    BOOLEAN = 12
    UINT32 = 13
    UINT32_HEX = 14
    IPSETNAME = 15
    IPSETFLAGS = 16
    VARIABLE = 100  # a $VAR reference: its type is checked at instantiation


@dataclass(frozen=True, order=True)
class VarRef:
    """A variable reference: ``$NAME`` (= ``$NAME[@0]``), ``$NAME[index]`` or ``$NAME[@iterator]``."""

    name: str
    index: int | None = None
    iterator: int = 0

    def __str__(self) -> str:
        if self.index is not None:
            return f"${self.name}[{self.index}]"
        if self.iterator:
            return f"${self.name}[@{self.iterator}]"
        return f"${self.name}"


@dataclass(frozen=True)
class TcpFlags:
    """tcp ``flags='MASK/SET'`` as two bit sets (FIN=1, SYN=2, RST=4, PSH=8, ACK=16, URG=32)."""

    mask: int
    set: int


# The typed value of one attribute. Which Python type is used depends on the datatype that matched:
# ints (UINT*, protocol numbers, opcodes, ethertypes, IP/IPv6 mask lengths), MacAddress (MAC addresses and
# masks), str (comments, ipset names), IPv4Address/IPv6Address, bool, TcpFlags,
# tuple[str, ...] (conntrack state names or ipset flags, canonical order and case).
Scalar = int | str | bool | MacAddress | IPv4Address | IPv6Address | TcpFlags | tuple[str, ...]


@dataclass(frozen=True)
class AttrValue:
    """One attribute of a protocol element: its value, the datatype that parsed it, and its negation."""

    value: Scalar | VarRef
    datatype: DataType
    negated: bool = False

    @property
    def is_var(self) -> bool:
        return isinstance(self.value, VarRef)


@dataclass(frozen=True)
class Match:
    """The protocol element of a rule (``<tcp .../>`` merged over all its elements) and its attributes.

    ``attrs`` holds (name, value) pairs in the protocol's attribute-table order.
    """

    protocol: str
    attrs: tuple[tuple[str, AttrValue], ...] = ()

    def get(self, name: str) -> AttrValue | None:
        for key, value in self.attrs:
            if key == name:
                return value
        return None

    def __contains__(self, name: object) -> bool:
        return any(key == name for key, _ in self.attrs)

    def items(self) -> Iterator[tuple[str, AttrValue]]:
        return iter(self.attrs)

    def as_dict(self) -> dict[str, AttrValue]:
        return dict(self.attrs)


@dataclass(frozen=True)
class Rule:
    action: Action
    direction: Direction
    priority: int = 500
    statematch: bool = True
    match: Match | None = None


Params = tuple[tuple[str, tuple[str, ...]], ...]
"""Filter parameters: (name, values) sorted by name (bytewise, as libvirt); several values make a list."""


def make_params(pairs: Mapping[str, tuple[str, ...]] | list[tuple[str, str]]) -> Params:
    """Build canonical Params from a name→values mapping or from (name, value) pairs in document order."""
    merged: dict[str, tuple[str, ...]] = {}
    if isinstance(pairs, Mapping):
        merged = {k: tuple(v) for k, v in pairs.items()}
    else:
        for name, value in pairs:
            merged[name] = (*merged.get(name, ()), value)
    return tuple(sorted(merged.items(), key=lambda kv: kv[0].encode()))


@dataclass(frozen=True)
class FilterRef:
    filter: str
    params: Params = ()

    def param_dict(self) -> dict[str, tuple[str, ...]]:
        return dict(self.params)


FilterEntry = Rule | FilterRef


@dataclass(frozen=True)
class Filter:
    name: str
    uuid: UUID | None = None
    chain: str = "root"
    priority: int = 0
    entries: tuple[FilterEntry, ...] = field(default=())

    @property
    def rules(self) -> tuple[Rule, ...]:
        return tuple(e for e in self.entries if isinstance(e, Rule))

    @property
    def refs(self) -> tuple[FilterRef, ...]:
        return tuple(e for e in self.entries if isinstance(e, FilterRef))
