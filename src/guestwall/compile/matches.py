"""From program checks to nftables matches: the table of packet field -> nft expression, set key type and
constant values, per context (layer 2 frame, RARP frame, layer 3 IPv4 or IPv6 packet).

Every Field of the program has a row here or an explicit, reasoned entry in UNSUPPORTED.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import lru_cache
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network

from guestwall.errors import InstantiationError
from guestwall.instantiate.fields import Field
from guestwall.instantiate.program import Addr, Check, Flags, IPSetRef, Operand, Prefix, Range, States, Value
from guestwall.model.mac import MacAddress
from guestwall.nft import ir
from guestwall.nft.datatypes import DataType


class Kind(enum.Enum):
    """How a field's values are written and which set type holds them."""

    MAC = "ether_addr"
    ETHERTYPE = "ether_type"
    IPV4 = "ipv4_addr"
    IPV6 = "ipv6_addr"
    PORT = "inet_service"
    PROTO = "inet_proto"
    ICMP_TYPE = "icmp_type"
    ICMP_CODE = "icmp_code"
    ICMPV6_TYPE = "icmpv6_type"
    ICMPV6_CODE = "icmpv6_code"
    INT = "integer"  # plain numbers; held in sets only through typeof
    RAW_MAC = "raw-mac"  # MAC address in a raw payload field (RARP): written as an integer
    RAW_IPV4 = "raw-ipv4"
    RAW_IPV6 = "raw-ipv6"  # IPv6 address in a raw payload field (ND target): written as an integer
    STATES = "ct_state"
    FLAGS = "tcp_flag"
    NAME = "name"  # ct direction


@dataclass(frozen=True)
class Context:
    """Where a rule runs: layer 3 (inet) or layer 2 (bridge); its IP family; RARP frames."""

    l3: bool
    family: int | None = None
    rarp: bool = False


@dataclass(frozen=True)
class Target:
    expr: ir.Expr
    kind: Kind

    @property
    def set_type(self) -> DataType | None:
        """``type X`` for a set keyed by this field, or None when only ``typeof`` can declare it."""
        return _SET_TYPE.get(self.kind)


# the kinds a set can declare with ``type X``; the others (numbers, raw payload fields) need ``typeof``
_SET_TYPE = {
    Kind.MAC: DataType.ETHER_ADDR,
    Kind.ETHERTYPE: DataType.ETHER_TYPE,
    Kind.IPV4: DataType.IPV4_ADDR,
    Kind.IPV6: DataType.IPV6_ADDR,
    Kind.PORT: DataType.INET_SERVICE,
    Kind.PROTO: DataType.INET_PROTO,
    Kind.ICMP_TYPE: DataType.ICMP_TYPE,
    Kind.ICMP_CODE: DataType.ICMP_CODE,
    Kind.ICMPV6_TYPE: DataType.ICMPV6_TYPE,
    Kind.ICMPV6_CODE: DataType.ICMPV6_CODE,
}


UNSUPPORTED: dict[Field, str] = {
    Field.ARP_GRATUITOUS: "nftables cannot compare two packet fields (ARP sender and target address)",
}

_ARP_RAW = {  # ARP header for Ethernet/IPv4, offsets in bits from the network header
    Field.ARP_HTYPE: (0, 16, Kind.INT),
    Field.ARP_PTYPE: (16, 16, Kind.INT),
    Field.ARP_OP: (48, 16, Kind.INT),
    Field.ARP_SHA: (64, 48, Kind.RAW_MAC),
    Field.ARP_SPA: (112, 32, Kind.RAW_IPV4),
    Field.ARP_THA: (144, 48, Kind.RAW_MAC),
    Field.ARP_TPA: (192, 32, Kind.RAW_IPV4),
}
_ARP_NAMED = {
    Field.ARP_HTYPE: ("htype", Kind.INT),
    Field.ARP_PTYPE: ("ptype", Kind.ETHERTYPE),
    Field.ARP_OP: ("operation", Kind.INT),
    Field.ARP_SHA: ("saddr ether", Kind.MAC),
    Field.ARP_SPA: ("saddr ip", Kind.IPV4),
    Field.ARP_THA: ("daddr ether", Kind.MAC),
    Field.ARP_TPA: ("daddr ip", Kind.IPV4),
}
# STP BPDU fields, offsets in bits from the link-layer header (after 802.3 header and LLC 42 42 03)
_STP_RAW = {
    Field.STP_TYPE: (160, 8),
    Field.STP_FLAGS: (168, 8),
    Field.STP_ROOT_PRIO: (176, 16),
    Field.STP_ROOT_ADDR: (192, 48),
    Field.STP_ROOT_COST: (240, 32),
    Field.STP_SENDER_PRIO: (272, 16),
    Field.STP_SENDER_ADDR: (288, 48),
    Field.STP_PORT: (336, 16),
    Field.STP_AGE: (352, 16),
    Field.STP_MAX_AGE: (368, 16),
    Field.STP_HELLO: (384, 16),
    Field.STP_FWD_DELAY: (400, 16),
}
STP_LLC = ir.Match(ir.Raw("ll", 112, 24), ir.Const(0x424203, ir.Style.HEX))
_STP_CONFIG_FIELDS = frozenset(_STP_RAW) - {Field.STP_TYPE}


@lru_cache(maxsize=512)
def target(field: Field, ctx: Context) -> Target:
    """The nft expression and value kind of a field in a context; raises for unsupported fields."""
    if field in UNSUPPORTED:
        raise InstantiationError(f"{field.value} cannot be enforced: {UNSUPPORTED[field]}")
    six = ctx.family == 6
    simple: dict[Field, Target] = {
        Field.ETHER_SRC: Target(ir.Payload("ether", "saddr"), Kind.MAC),
        Field.ETHER_DST: Target(ir.Payload("ether", "daddr"), Kind.MAC),
        Field.ETHER_TYPE: Target(ir.Payload("ether", "type"), Kind.ETHERTYPE),
        Field.VLAN_ID: Target(ir.Payload("vlan", "id"), Kind.INT),
        Field.VLAN_TYPE: Target(ir.Payload("vlan", "type"), Kind.ETHERTYPE),
        Field.NFPROTO: Target(ir.Meta("nfproto"), Kind.NAME),
        Field.IP4_SRC: Target(ir.Payload("ip", "saddr"), Kind.IPV4),
        Field.IP4_DST: Target(ir.Payload("ip", "daddr"), Kind.IPV4),
        Field.IP6_SRC: Target(ir.Payload("ip6", "saddr"), Kind.IPV6),
        Field.IP6_DST: Target(ir.Payload("ip6", "daddr"), Kind.IPV6),
        Field.L4_SPORT: Target(ir.Payload("th", "sport"), Kind.PORT),
        Field.L4_DPORT: Target(ir.Payload("th", "dport"), Kind.PORT),
        Field.TCP_FLAGS: Target(ir.Payload("tcp", "flags"), Kind.FLAGS),
        Field.CT_STATE: Target(ir.Ct("state"), Kind.STATES),
        Field.CT_DIRECTION: Target(ir.Ct("direction"), Kind.NAME),
        Field.IP_DSCP: Target(ir.Payload("ip6" if six else "ip", "dscp"), Kind.INT),
        Field.ICMP_TYPE: Target(
            ir.Payload("icmpv6" if six else "icmp", "type"), Kind.ICMPV6_TYPE if six else Kind.ICMP_TYPE
        ),
        Field.ICMP_CODE: Target(
            ir.Payload("icmpv6" if six else "icmp", "code"), Kind.ICMPV6_CODE if six else Kind.ICMP_CODE
        ),
    }
    if field in simple:
        return simple[field]
    if field is Field.IP_PROTO:
        if ctx.l3:
            return Target(ir.Meta("l4proto"), Kind.PROTO)
        return Target(ir.Payload("ip6", "nexthdr") if six else ir.Payload("ip", "protocol"), Kind.PROTO)
    if field in _ARP_RAW:
        if ctx.rarp:  # nft's named arp fields imply ethertype ARP; RARP has the same layout
            offset, length, kind = _ARP_RAW[field]
            return Target(ir.Raw("nh", offset, length), kind)
        name, kind = _ARP_NAMED[field]
        return Target(ir.Payload("arp", name), kind)
    if field is Field.ND_TARGET:  # nft 1.0.6 has no name for it: 8 bytes into the ICMPv6 header
        return Target(ir.Raw("th", 64, 128), Kind.RAW_IPV6)
    if field is Field.TCP_OPTION:
        return Target(ir.TcpOption(0), Kind.NAME)  # only as a constant (see constant_match)
    if field in _STP_RAW:
        offset, length = _STP_RAW[field]
        return Target(ir.Raw("ll", offset, length), Kind.RAW_MAC if length == 48 else Kind.INT)
    raise InstantiationError(f"no nftables mapping for {field.value}")  # CONNLIMIT, IPSET: see compile.rules


def stp_prefix(checks: tuple[Check, ...]) -> list[ir.Match]:
    """STP matches check the LLC header, and configuration fields only match configuration BPDUs."""
    fields = {c.field for c in checks}
    if not fields & set(_STP_RAW):
        return []
    out = [STP_LLC]
    if fields & _STP_CONFIG_FIELDS:
        out.append(ir.Match(ir.Raw("ll", 160, 8), ir.Const(0)))
    return out


# ---- literals ----------------------------------------------------------------------------------------------


def mac_bits(addr: Addr) -> int:
    """A MAC operand's 48 bits (instantiation types every MAC operand as a MacAddress)."""
    if not isinstance(addr, MacAddress):
        raise InstantiationError(f"{addr} is not a MAC address")
    return addr.bits


def int_mac(value: int) -> str:
    """48 bits as nftables writes a MAC address (``MacAddress``'s canonical text)."""
    return MacAddress(value).text


def prefix_bounds(base: int, length: int, width: int) -> tuple[int, int]:
    """The lowest and highest value under a prefix of ``length`` bits of a ``width``-bit value."""
    host = (1 << (width - length)) - 1
    lo = base & ~host & ((1 << width) - 1)
    return lo, lo | host


_STYLE = {
    Kind.ETHERTYPE: ir.Style.ETHERTYPE,
    Kind.RAW_MAC: ir.Style.HEX,
    Kind.RAW_IPV4: ir.Style.HEX,
    Kind.RAW_IPV6: ir.Style.HEX,
}


def scalar(value: object, kind: Kind) -> ir.Scalar:
    """One value as the kind holds it: a lowercase MAC, an address, a keyword, or a number."""
    if kind is Kind.MAC:
        return str(value).lower()
    if kind is Kind.NAME:
        return {4: "ipv4", 6: "ipv6"}.get(value, str(value)) if isinstance(value, int) else str(value)
    if kind in (Kind.IPV4, Kind.IPV6, Kind.RAW_IPV4, Kind.RAW_IPV6):
        addr = ip_address(value if isinstance(value, int | str | IPv4Address | IPv6Address) else str(value))
        return int(addr) if kind in (Kind.RAW_IPV4, Kind.RAW_IPV6) else addr
    return value.bits if isinstance(value, MacAddress) and kind is Kind.RAW_MAC else int(str(value), 0)


def _style(kind: Kind) -> ir.Style:
    return ir.Style.SYMBOL if kind is Kind.NAME else _STYLE.get(kind, ir.Style.PLAIN)


def _prefix_range(op: Prefix, kind: Kind) -> ir.Const:
    """A prefix: ``a/len`` for IP addresses, a range for MAC and raw fields."""
    if kind in (Kind.IPV4, Kind.IPV6):
        return ir.Const(ip_network(f"{op.addr}/{op.length}", strict=False))
    width = 48 if kind in (Kind.MAC, Kind.RAW_MAC) else 128 if kind is Kind.RAW_IPV6 else 32
    if kind is Kind.RAW_IPV6:
        base = int(ip_address(str(op.addr)))
    else:
        base = op.addr.bits if isinstance(op.addr, MacAddress) else int(op.addr)
    lo, hi = prefix_bounds(base, op.length, width)
    if kind is Kind.MAC:
        return ir.Const((int_mac(lo), int_mac(hi)))
    return ir.Const((lo, hi), ir.Style.HEX)


def operand_const(op: Operand, kind: Kind) -> ir.Const | ir.AnonSet:
    """An operand as an nft right-hand side."""
    if isinstance(op, Value):
        return ir.Const(scalar(op.value, kind), _style(kind))
    if isinstance(op, Prefix):
        return _prefix_range(op, kind)
    if isinstance(op, Range):
        return ir.Const((scalar(op.lo, kind), scalar(op.hi, kind)), _style(kind))
    if isinstance(op, States):
        return ir.AnonSet(tuple(op.names))
    raise InstantiationError(f"operand {op} cannot be written for {kind.value}")


def constant_match(check: Check, ctx: Context) -> ir.Match:
    """A check with a constant operand as one nft match."""
    op = check.operand
    assert op is not None
    t = target(check.field, ctx)
    if isinstance(op, Flags):
        flags = ir.Masked(t.expr, ir.Const(op.mask, ir.Style.HEX))
        return ir.Match(flags, ir.Const(op.set, ir.Style.HEX), check.negated)
    if isinstance(op, Prefix) and t.kind is Kind.MAC:
        mac_mask = MacAddress.mask(op.length).text
        base = int_mac(prefix_bounds(mac_bits(op.addr), op.length, 48)[0])
        return ir.Match(ir.Masked(t.expr, ir.Const(mac_mask)), ir.Const(base), check.negated)
    if isinstance(op, IPSetRef):
        raise InstantiationError("ipset matches are compiled by the rule compiler")
    if check.field is Field.TCP_OPTION:  # presence of a TCP option kind
        if not isinstance(op, Value):
            raise InstantiationError(f"a TCP option is one kind number, not {op}")
        return ir.Match(ir.TcpOption(int(str(op.value), 0)), ir.Exists(not check.negated))
    return ir.Match(t.expr, operand_const(op, t.kind), check.negated)
