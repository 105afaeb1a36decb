"""Typed nftables expressions, statements and rules: values only, rendered in one place (``nft.render``).

The compiler builds these; the dataplane puts them into typed commands (``nft.commands``). Nothing here knows
of filters or bindings, and nothing here writes nft syntax: an interface name or a comment is a value, and
the renderer alone decides how (and whether) it can be written.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

# ---- expressions -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Payload:
    """A named header field, e.g. ``ether saddr``, ``arp saddr ip``, ``th dport``."""

    proto: str
    field: str


@dataclass(frozen=True)
class Raw:
    """A raw payload field: ``@base,offset,length`` in bits."""

    base: str
    offset: int
    length: int


@dataclass(frozen=True)
class Meta:
    key: str


@dataclass(frozen=True)
class Ct:
    key: str


@dataclass(frozen=True)
class Masked:
    """``expr & mask``."""

    expr: Expr
    mask: Const


@dataclass(frozen=True)
class Concat:
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class TcpOption:
    """The presence of a TCP option kind (``tcp option N``), compared with ``Exists``."""

    kind: int


class Style(enum.Enum):
    """How a constant is written: the value's own form, or a number in a fixed notation."""

    PLAIN = "plain"  # addresses, networks, MACs, decimal numbers
    HEX = "hex"  # numbers as 0x.. (marks, masks, raw payload fields)
    ETHERTYPE = "ethertype"  # 0x0800
    IFNAME = "ifname"  # an interface name (or pattern with a trailing *), quoted
    SYMBOL = "symbol"  # an nft keyword: ipv4, original, reply ...


Scalar = int | str | IPv4Address | IPv6Address | IPv4Network | IPv6Network


@dataclass(frozen=True)
class Const:
    """A constant: one value, or an inclusive range ``(lo, hi)`` of two."""

    value: Scalar | tuple[Scalar, Scalar]
    style: Style = Style.PLAIN


@dataclass(frozen=True)
class AnonSet:
    """An anonymous set of keywords, e.g. conntrack states ``{ established, related }``."""

    items: tuple[str, ...]


@dataclass(frozen=True)
class Exists:
    """The right-hand side of a ``TcpOption`` match."""

    present: bool


@dataclass(frozen=True)
class SetRef:
    name: str


# ---- expressions of the network layer (NAT, conntrack flags, port lists) -----------------------------------


@dataclass(frozen=True)
class Flags:
    """A combination of flag keywords, e.g. conntrack states ``established,related`` (matches any of them)."""

    items: tuple[str, ...]


@dataclass(frozen=True)
class ConstSet:
    """An anonymous set of constants, e.g. ports ``{ 53, 67 }``."""

    items: tuple[Const, ...]


@dataclass(frozen=True)
class MapLookup:
    """The value a named map holds for ``key`` (``ip daddr map @m``), e.g. a NAT target address."""

    key: Expr
    map: str


NetExpr = Flags | ConstSet | MapLookup

# ---- end of the network layer's expressions ----------------------------------------------------------------

Expr = Payload | Raw | Meta | Ct | Masked | Concat | TcpOption | Const | AnonSet | Exists | SetRef | NetExpr

# ---- statements ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    left: Expr
    right: Expr
    negated: bool = False


class VerdictKind(enum.StrEnum):
    ACCEPT = "accept"
    DROP = "drop"
    RETURN = "return"
    CONTINUE = "continue"
    REJECT = "reject"
    JUMP = "jump"
    GOTO = "goto"


@dataclass(frozen=True)
class Verdict:
    """accept, drop, return, continue, reject, or jump/goto a chain."""

    kind: VerdictKind
    target: str | None = None


@dataclass(frozen=True)
class VMap:
    key: Expr
    map: str


@dataclass(frozen=True)
class AnonVMap:
    """``key vmap { value : verdict, ... }``: one lookup dispatching to the verdict of the packet's value."""

    key: Expr
    entries: tuple[tuple[Const, Verdict], ...]


@dataclass(frozen=True)
class SetMark:
    """``meta mark set <value>`` where value is a constant or ``key map @m``."""

    value: Expr
    map: str | None = None


@dataclass(frozen=True)
class CtCountOver:
    """Per-key connection count above a limit, kept in a dynamic set (iptables' connlimit)."""

    set: str
    key: Expr
    limit: int


@dataclass(frozen=True)
class Limit:
    """A token bucket in packets per second; ``over`` matches the packets beyond it."""

    rate: int
    burst: int
    over: bool = False


@dataclass(frozen=True)
class Counter:
    pass


@dataclass(frozen=True)
class Log:
    """To nfnetlink_log group ``group`` (read by the agent), with a prefix that names the rule."""

    prefix: str
    group: int


# ---- address translation (the network layer's NAT chains) --------------------------------------------------


class NatKind(enum.StrEnum):
    SNAT = "snat"
    DNAT = "dnat"
    MASQUERADE = "masquerade"  # snat to the address of the outgoing interface
    REDIRECT = "redirect"  # dnat to the host itself


@dataclass(frozen=True)
class Nat:
    """Address translation: ``snat|dnat to <address>[:<port>]``, ``masquerade|redirect [to :<port>]``.

    ``address`` is one address, an inclusive range of two (a ``Const``), or the address a map holds for a key
    (a ``MapLookup``); snat and dnat need one, masquerade and redirect take none. ``port`` is one port or an
    inclusive range (a ``Const``)."""

    kind: NatKind
    address: Const | MapLookup | None = None
    port: Const | None = None


# ---- end of address translation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PayloadSet:
    """``<field> set <value>``, e.g. ``udp checksum set 0``."""

    field: Payload
    value: Const


Statement = (
    Match | Verdict | VMap | AnonVMap | SetMark | CtCountOver | Nat | PayloadSet | Limit | Counter | Log
)


@dataclass(frozen=True)
class Rule:
    statements: tuple[Statement, ...]
    comment: str = ""


def safe_comment(text: str, limit: int = 120) -> str:
    """Comments go to the kernel as user data: keep them short and free of quoting trouble."""
    if text.isprintable() and '"' not in text and "\\" not in text:  # the usual case, without a loop
        return text[:limit]
    cleaned = "".join(ch if ch.isprintable() and ch not in '"\\' else "_" for ch in text)
    return cleaned[:limit]
