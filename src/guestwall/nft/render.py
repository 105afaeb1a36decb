"""The only place that writes nftables syntax: typed commands, rules and expressions -> nft text.

Text, not nftables JSON: nft 1.0.6 (Debian 12) cannot declare a set keyed by a raw payload field in JSON
(``typeof`` is not accepted there, and an ``integer`` component has no size), and one batch is either all
text or all JSON. Every string that reaches the syntax is a value checked here: an identifier must be one
of ours, an interface name is quoted and refused if the quoting cannot hold it, a keyword must be a word.
So no value can inject syntax, whatever its origin. Dispatch is by type, through tables.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from guestwall.errors import InstantiationError, RenderError
from guestwall.model.ifname import ifname_problem
from guestwall.nft import ir
from guestwall.nft.commands import (
    Chain,
    ChainRule,
    Command,
    Elements,
    Listing,
    ListRuleset,
    ListSet,
    ListSets,
    ListTable,
    SetDecl,
    Table,
    Transaction,
    Verb,
)
from guestwall.nft.datatypes import DataType

_IDENTIFIER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./-]{0,254}$")
_KEYWORD = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_FAMILIES = frozenset({"bridge", "inet", "ip", "ip6", "arp", "netdev"})


def identifier(name: str) -> str:
    """A table, chain or set name (ours: letters, digits, ``_ . / -``)."""
    if not _IDENTIFIER.match(name):
        raise RenderError(f"{name!r} cannot be an nftables name")
    return name


def keyword(word: str) -> str:
    if not _KEYWORD.match(word):
        raise RenderError(f"{word!r} is not an nftables keyword")
    return word


def quoted(text: str) -> str:
    """A string (an interface name or pattern, a comment) in nft's quotes, which have no escapes."""
    if any(ch in '"\\' or not ch.isprintable() for ch in text):
        raise RenderError(f"{text!r} cannot be written in nftables syntax (quotes, backslashes, controls)")
    return f'"{text}"'


def _family(family: str) -> str:
    if family not in _FAMILIES:
        raise RenderError(f"{family!r} is not an nftables family")
    return family


@lru_cache(maxsize=1 << 16)
def _ifname(name: str) -> str:
    """An interface name that matches exactly that name. Names come in checked (guestwall.model.ifname);
    one that slipped through is refused here rather than written as text meaning something else.
    Remembered: every port's name is written into several sets of every full transaction."""
    problem = ifname_problem(name)
    if problem is not None:
        raise InstantiationError(f"interface name {name!r} cannot be matched: it is {problem}")
    return quoted(name)


# ---- constants and set element components ----------------------------------------------------------------


def _number(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise RenderError(f"{value!r} is not a number")
    return value


_MAC_TEXT = re.compile(r"^[0-9a-f:]+$")


def _plain(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):  # a MAC address: hex digits and colons only
        if not _MAC_TEXT.match(value):
            raise RenderError(f"{value!r} is not a MAC address")
        return value
    return str(value)  # an ipaddress value renders itself


_SCALAR: dict[ir.Style, Callable[[Any], str]] = {
    ir.Style.PLAIN: _plain,
    ir.Style.HEX: lambda v: hex(_number(v)),
    ir.Style.ETHERTYPE: lambda v: f"0x{_number(v):04x}",
    ir.Style.IFNAME: lambda v: quoted(str(v)),
    ir.Style.SYMBOL: lambda v: keyword(str(v)),
}


def _const(c: ir.Const) -> str:
    scalar = _SCALAR[c.style]
    if isinstance(c.value, tuple):
        return f"{scalar(c.value[0])}-{scalar(c.value[1])}"
    return scalar(c.value)


# how a number is written in a component of these types (decimal for the others: ports, protocols, ICMP);
# the kernel's names for typeof components (dscp, arp_op) are the compiler's INTEGER
_INT_TEXT: dict[DataType, Callable[[int], str]] = {
    DataType.ETHER_TYPE: lambda v: f"0x{v:04x}",
    DataType.INTEGER: hex,
    DataType.MARK: hex,
    DataType.DSCP: hex,
    DataType.ARP_OP: hex,
}


def component(value: object, type_name: DataType) -> str:
    """A canonical set element component (see compile.canon) in nft syntax, by the set's key type."""
    return _component_writer(type_name)(value)


@lru_cache(maxsize=256)
def _component_writer(type_name: DataType) -> Callable[[object], str]:
    """How a component of this type is written (intervals as ``lo-hi``), the type's choices made once for
    all the elements of a set (a first apply writes tens of thousands)."""
    if type_name is DataType.IFNAME:

        def name(value: object) -> str:
            if isinstance(value, tuple):
                return f"{name(value[0])}-{name(value[1])}"
            return _ifname(str(value))

        return name
    number = _INT_TEXT.get(type_name, str)

    def write(value: object) -> str:
        if isinstance(value, tuple):
            return f"{write(value[0])}-{write(value[1])}"
        if isinstance(value, IPv4Address | IPv6Address):
            return str(value)
        if isinstance(value, int):
            return number(value)
        return _plain(value)

    return write


# ---- expressions and statements ----------------------------------------------------------------------------

_EXPR: dict[type, Callable[[Any], str]] = {
    ir.Payload: lambda e: f"{keyword(e.proto)} {' '.join(keyword(w) for w in e.field.split())}",
    ir.Raw: lambda e: f"@{keyword(e.base)},{_number(e.offset)},{_number(e.length)}",
    ir.Meta: lambda e: keyword(e.key) if e.key in ("iifname", "oifname") else f"meta {keyword(e.key)}",
    ir.Ct: lambda e: f"ct {keyword(e.key)}",
    ir.Masked: lambda e: f"{expr(e.expr)} & {_const(e.mask)}",
    ir.Concat: lambda e: " . ".join(expr(i) for i in e.items),
    ir.TcpOption: lambda e: f"tcp option {_number(e.kind)}",
    ir.Const: _const,
    ir.AnonSet: lambda e: "{ " + ", ".join(keyword(i) for i in e.items) + " }",
    ir.Exists: lambda e: "exists" if e.present else "missing",
    ir.SetRef: lambda e: f"@{identifier(e.name)}",
    # the network layer's expressions
    ir.Flags: lambda e: ",".join(keyword(i) for i in e.items),
    ir.ConstSet: lambda e: "{ " + ", ".join(_const(i) for i in e.items) + " }",
    ir.MapLookup: lambda e: f"{expr(e.key)} map @{identifier(e.map)}",
}


def expr(e: ir.Expr) -> str:
    return _EXPR[type(e)](e)


def _verdict(v: ir.Verdict) -> str:
    kind = ir.VerdictKind(v.kind).value
    return f"{kind} {identifier(v.target)}" if v.target else kind


def _set_mark(s: ir.SetMark) -> str:
    source = f"{expr(s.value)} map @{identifier(s.map)}" if s.map else expr(s.value)
    return f"meta mark set {source}"


# ---- address translation (the network layer) ---------------------------------------------------------------


def _nat_address(value: object) -> str:
    if not isinstance(value, IPv4Address | IPv6Address):
        raise RenderError(f"{value!r} is not an address to translate to")
    return str(value)


def _nat_port(value: object) -> str:
    port = _number(value)
    if not 0 < port < 65536:
        raise RenderError(f"{port} is not a port to translate to")
    return str(port)


def _nat_target(n: ir.Nat) -> str:
    """``address[-address][:port[-port]]`` (an IPv6 address in brackets before a port), or a map lookup."""
    if isinstance(n.address, ir.MapLookup):
        if n.port is not None:
            raise RenderError("a NAT target looked up in a map carries no separate port")
        return expr(n.address)
    address = ""
    if n.address is not None:
        v = n.address.value
        address = "-".join(map(_nat_address, v)) if isinstance(v, tuple) else _nat_address(v)
        if n.port is not None and ":" in address:
            address = f"[{address}]"
    if n.port is None:
        return address
    v = n.port.value
    return f"{address}:{'-'.join(map(_nat_port, v)) if isinstance(v, tuple) else _nat_port(v)}"


def _nat(n: ir.Nat) -> str:
    kind = ir.NatKind(n.kind)
    needs_address = kind in (ir.NatKind.SNAT, ir.NatKind.DNAT)
    if needs_address != (n.address is not None):
        raise RenderError(f"{kind.value} {'needs' if needs_address else 'takes no'} address to translate to")
    target = _nat_target(n)
    return f"{kind.value} to {target}" if target else kind.value


# ---- end of address translation ----------------------------------------------------------------------------


def _limit(n: ir.Limit) -> str:
    over = "over " if n.over else ""
    return f"limit rate {over}{_number(n.rate)}/second burst {_number(n.burst)} packets"


_STATEMENT: dict[type, Callable[[Any], str]] = {
    ir.Match: lambda s: f"{expr(s.left)} {'!= ' if s.negated else ''}{expr(s.right)}",
    ir.Verdict: _verdict,
    ir.VMap: lambda s: f"{expr(s.key)} vmap @{identifier(s.map)}",
    ir.AnonVMap: lambda s: (
        f"{expr(s.key)} vmap {{ " + ", ".join(f"{_const(k)} : {_verdict(v)}" for k, v in s.entries) + " }"
    ),
    ir.SetMark: _set_mark,
    ir.CtCountOver: lambda s: (
        f"add @{identifier(s.set)} {{ {expr(s.key)} ct count over {_number(s.limit)} }}"
    ),
    ir.Nat: _nat,
    ir.PayloadSet: lambda s: f"{expr(s.field)} set {expr(s.value)}",
    ir.Limit: _limit,
    ir.Counter: lambda s: "counter",
    ir.Log: lambda s: f"log prefix {quoted(s.prefix)} group {_number(s.group)}",
}


# Rules are values, and the same few rules (a group's chains, the skeleton) are written again and again:
# into digests while compiling, into every transaction that re-asserts them. Their text is remembered by
# value (hashing a rule costs a fraction of writing it). Bounded: a long-running agent sees edits come and go.
_MEMO = 1 << 14


@lru_cache(maxsize=_MEMO)
def statements(stmts: tuple[ir.Statement, ...]) -> str:
    """A rule's statements (what a rule's digest is computed from)."""
    return " ".join(_STATEMENT[type(s)](s) for s in stmts)


@lru_cache(maxsize=_MEMO)
def rule(r: ir.Rule) -> str:
    body = statements(r.statements)
    return f"{body} comment {quoted(r.comment)}" if r.comment else body


# ---- commands ----------------------------------------------------------------------------------------------


def _table(t: Table) -> str:
    return f"{_family(t.family)} {identifier(t.name)}"


def _chain_head(c: Chain) -> str:
    return f"{_table(c.table)} {identifier(c.name)}"


def declaration(s: SetDecl) -> str:
    """A set's key, map type and flags, as inside its braces."""
    if s.typeof is not None:
        key = "typeof " + " . ".join(expr(e) for e in s.typeof)
    else:
        key = "type " + " . ".join(keyword(t) for t in s.key_types)
    if s.map_type is not None:
        key += f" : {keyword(s.map_type)}"
    flags = f" flags {', '.join(keyword(f) for f in s.flags)};" if s.flags else ""
    return f"{key};{flags}"


def _verdict_map_value(value: object) -> str:
    assert isinstance(value, tuple)
    return _verdict_value(*value)


# a map's value by the map's type; others (marks) are numbers in hex
_MAP_VALUE: dict[DataType, Callable[[Any], str]] = {
    DataType.VERDICT: _verdict_map_value,
    # address maps (the network layer's NAT)
    DataType.IPV4_ADDR: lambda v: component(v, DataType.IPV4_ADDR),
    DataType.IPV6_ADDR: lambda v: component(v, DataType.IPV6_ADDR),
}


def _map_value(value: object, map_type: DataType) -> str:
    write = _MAP_VALUE.get(map_type)
    if write is not None:
        return write(value)
    return hex(value) if isinstance(value, int) else keyword(str(value))


@lru_cache(maxsize=4096)
def _verdict_value(verdict: str, chain: str | None) -> str:
    """A verdict map's value: a group's few chains are every port's values (remembered)."""
    return _verdict(ir.Verdict(ir.VerdictKind(verdict), chain))


@lru_cache(maxsize=256)
def _key_writer(types: tuple[DataType, ...]) -> Callable[[tuple[object, ...]], str]:
    """How a key of these types is written: its parts by ``component``, concatenated with ``.``."""
    parts = tuple(_component_writer(t) for t in types)

    def write(key: tuple[object, ...]) -> str:
        if len(key) == 1 and len(parts) == 1:  # no concatenation to write
            return parts[0](key[0])
        if len(key) == 2 and len(parts) == 2:  # a port and one value: most per-port elements
            return f"{parts[0](key[0])} . {parts[1](key[1])}"
        return " . ".join(part(c) for part, c in zip(parts, key, strict=True))

    return write


def _elements_text(e: Elements, with_value: bool) -> str:
    key = _key_writer(e.set.key_types)
    map_type = e.set.map_type
    if not with_value or map_type is None:
        return ", ".join(key(k) for k, _ in e.items)
    return ", ".join(f"{key(k)} : {_map_value(v, map_type)}" for k, v in e.items)


def _render_table(verb: Verb, t: Table) -> str:
    return f"{verb.value} table {_table(t)}"


def _render_chain(verb: Verb, c: Chain) -> str:
    head = f"{verb.value} chain {_chain_head(c)}"
    if c.base is None or (verb is not Verb.ADD and verb is not Verb.CREATE):
        return head
    b = c.base
    hook = f"type {keyword(b.type)} hook {keyword(b.hook)} priority {_number(b.priority)};"
    hook += f" policy {keyword(b.policy)};"
    return f"{head} {{ {hook} }}"


def _render_set(verb: Verb, s: SetDecl) -> str:
    head = f"{verb.value} {s.kind} {_table(s.table)} {identifier(s.name)}"
    return f"{head} {{ {declaration(s)} }}" if verb in (Verb.ADD, Verb.CREATE) else head


def _render_elements(verb: Verb, e: Elements) -> str:
    items = _elements_text(e, verb is not Verb.DELETE)
    return f"{verb.value} element {_table(e.set.table)} {identifier(e.set.name)} {{ {items} }}"


def _render_rule(verb: Verb, r: ChainRule) -> str:
    if verb is not Verb.ADD and verb is not Verb.INSERT:
        raise RenderError(f"rules are only added or inserted (and chains flushed), not '{verb.value}'")
    return f"{verb.value} rule {_chain_head(r.chain)} {rule(r.rule)}"


_COMMAND: dict[type, Callable[[Verb, Any], str]] = {
    Table: _render_table,
    Chain: _render_chain,
    SetDecl: _render_set,
    Elements: _render_elements,
    ChainRule: _render_rule,
}


def command(c: Command) -> str:
    return _COMMAND[type(c.obj)](c.verb, c.obj)


def render_transaction(tx: Transaction) -> str:
    """One batch for libnftables or ``nft -f -``: one command a line."""
    return "".join(command(c) + "\n" for c in tx.commands)


_LISTING: dict[type, Callable[[Any], str]] = {
    ListTable: lambda x: f"table {_table(x.table)}",
    ListSet: lambda x: f"{'map' if x.map else 'set'} {_table(x.table)} {identifier(x.name)}",
    ListSets: lambda x: (
        f"{'maps' if x.maps else 'sets'}{'' if x.family is None else ' ' + _family(x.family)}"
    ),
    ListRuleset: lambda x: "ruleset",
}


def listing(what: Listing) -> str:
    """What ``nft list`` is asked for (``table bridge guestwall``, ``sets inet`` ...)."""
    return _LISTING[type(what)](what)


def list_command(what: Listing) -> str:
    """The whole command: ``list table bridge guestwall``."""
    return "list " + listing(what)
