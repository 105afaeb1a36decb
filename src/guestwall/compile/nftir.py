"""A small typed IR of nftables expressions and statements, rendered to nft's own syntax.

The compiler builds these; the dataplane sends the rendered text to the kernel in one transaction (text,
not JSON, because only the text syntax can declare sets keyed by raw payload fields, e.g. RARP addresses).
The IR knows nothing of filters or bindings.
"""

from __future__ import annotations

from dataclasses import dataclass

# ---- expressions -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Payload:
    """A named header field, e.g. ``ether saddr``, ``arp saddr ip``, ``th dport``."""

    proto: str
    field: str

    def render(self) -> str:
        return f"{self.proto} {self.field}"


@dataclass(frozen=True)
class Raw:
    """A raw payload field: ``@base,offset,length`` in bits."""

    base: str
    offset: int
    length: int

    def render(self) -> str:
        return f"@{self.base},{self.offset},{self.length}"


@dataclass(frozen=True)
class Meta:
    key: str

    def render(self) -> str:
        return self.key if self.key in ("iifname", "oifname") else f"meta {self.key}"


@dataclass(frozen=True)
class Ct:
    key: str

    def render(self) -> str:
        return f"ct {self.key}"


@dataclass(frozen=True)
class Masked:
    """``expr & mask`` (the mask rendered as a literal)."""

    expr: Expr
    mask: Literal

    def render(self) -> str:
        return f"{self.expr.render()} & {self.mask.render()}"


@dataclass(frozen=True)
class Concat:
    items: tuple[Expr, ...]

    def render(self) -> str:
        return " . ".join(i.render() for i in self.items)


@dataclass(frozen=True)
class Literal:
    """An already rendered constant: a number, address, prefix, range, or ``{ a, b }``."""

    text: str

    def render(self) -> str:
        return self.text


@dataclass(frozen=True)
class SetRef:
    name: str

    def render(self) -> str:
        return f"@{self.name}"


Expr = Payload | Raw | Meta | Ct | Masked | Concat | Literal | SetRef

# ---- statements ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    left: Expr
    right: Expr
    negated: bool = False

    def render(self) -> str:
        op = "!= " if self.negated else ""
        return f"{self.left.render()} {op}{self.right.render()}"


@dataclass(frozen=True)
class Verdict:
    """accept, drop, return, continue, reject, or jump/goto a chain."""

    kind: str
    target: str | None = None

    def render(self) -> str:
        return f"{self.kind} {self.target}" if self.target else self.kind


@dataclass(frozen=True)
class VMap:
    key: Expr
    map: str

    def render(self) -> str:
        return f"{self.key.render()} vmap @{self.map}"


@dataclass(frozen=True)
class SetMark:
    """``meta mark set <value>`` where value is a literal or ``key map @m``."""

    value: Expr
    map: str | None = None

    def render(self) -> str:
        source = f"{self.value.render()} map @{self.map}" if self.map else self.value.render()
        return f"meta mark set {source}"


@dataclass(frozen=True)
class CtCountOver:
    """Per-key connection count above a limit, kept in a dynamic set (iptables' connlimit)."""

    set: str
    key: Expr
    limit: int

    def render(self) -> str:
        return f"add @{self.set} {{ {self.key.render()} ct count over {self.limit} }}"


@dataclass(frozen=True)
class Limit:
    """A token bucket in packets per second; ``over`` matches the packets beyond it."""

    rate: int
    burst: int
    over: bool = False

    def render(self) -> str:
        over = "over " if self.over else ""
        return f"limit rate {over}{self.rate}/second burst {self.burst} packets"


@dataclass(frozen=True)
class Counter:
    def render(self) -> str:
        return "counter"


@dataclass(frozen=True)
class Log:
    """To nfnetlink_log group ``group`` (read by the agent), with a prefix that names the rule."""

    prefix: str
    group: int

    def render(self) -> str:
        return f"log prefix {quote(self.prefix)} group {self.group}"


@dataclass(frozen=True)
class Nat:
    """Address translation: ``masquerade [to :ports]``, ``snat|dnat [ip] to <target>``; ``to`` is rendered
    (``1.2.3.4``, ``1.2.3.4-1.2.3.9:1024-65535``, ``ip daddr map @m``)."""

    kind: str
    to: str = ""
    family: str = ""

    def render(self) -> str:
        if self.kind == "masquerade":
            return f"masquerade to {self.to}" if self.to else "masquerade"
        family = f"{self.family} " if self.family else ""
        return f"{self.kind} {family}to {self.to}"


@dataclass(frozen=True)
class PayloadSet:
    """``<field> set <value>``, e.g. ``udp checksum set 0``."""

    field: Payload
    value: Literal

    def render(self) -> str:
        return f"{self.field.render()} set {self.value.render()}"


Statement = Match | Verdict | VMap | SetMark | CtCountOver | Nat | PayloadSet | Limit | Counter | Log


@dataclass(frozen=True)
class Rule:
    statements: tuple[Statement, ...]
    comment: str = ""

    def render(self) -> str:
        body = " ".join(s.render() for s in self.statements)
        return f'{body} comment "{self.comment}"' if self.comment else body


# ---- literals ----------------------------------------------------------------------------------------------


def quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def safe_comment(text: str, limit: int = 120) -> str:
    """Comments go to the kernel as user data: keep them short and free of quoting trouble."""
    cleaned = "".join(ch if ch.isprintable() and ch not in '"\\' else "_" for ch in text)
    return cleaned[:limit]
