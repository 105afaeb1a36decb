"""What each filter attribute tests in a packet: the table from (protocol, attribute) to packet field.

Attributes combine into one test ("composite"): an address and its mask, a port and its range end, an
IP range's two ends. The table is data; instantiation builds checks from it, the nftables compiler and
the simulator interpret the fields. Every (protocol, attribute) of the language appears here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from guestwall.model.mac import STP_GROUP, MacAddress


class Field(enum.StrEnum):
    ETHER_SRC = "ether.saddr"
    ETHER_DST = "ether.daddr"
    ETHER_TYPE = "ether.type"
    VLAN_ID = "vlan.id"
    VLAN_TYPE = "vlan.type"
    STP_TYPE = "stp.type"
    STP_FLAGS = "stp.flags"
    STP_ROOT_PRIO = "stp.root-priority"
    STP_ROOT_ADDR = "stp.root-address"
    STP_ROOT_COST = "stp.root-cost"
    STP_SENDER_PRIO = "stp.sender-priority"
    STP_SENDER_ADDR = "stp.sender-address"
    STP_PORT = "stp.port"
    STP_AGE = "stp.age"
    STP_MAX_AGE = "stp.max-age"
    STP_HELLO = "stp.hello-time"
    STP_FWD_DELAY = "stp.forward-delay"
    ARP_HTYPE = "arp.htype"
    ARP_PTYPE = "arp.ptype"
    ARP_OP = "arp.operation"
    ARP_SHA = "arp.saddr.ether"
    ARP_THA = "arp.daddr.ether"
    ARP_SPA = "arp.saddr.ip"
    ARP_TPA = "arp.daddr.ip"
    ARP_GRATUITOUS = "arp.gratuitous"
    NFPROTO = "meta.nfproto"
    IP4_SRC = "ip.saddr"
    IP4_DST = "ip.daddr"
    IP6_SRC = "ip6.saddr"
    IP6_DST = "ip6.daddr"
    IP_PROTO = "ip.protocol"  # the next-header / protocol number (L2 ip/ipv6 elements and L3 rules)
    IP_DSCP = "ip.dscp"
    L4_SPORT = "th.sport"
    L4_DPORT = "th.dport"
    TCP_FLAGS = "tcp.flags"
    TCP_OPTION = "tcp.option"
    ICMP_TYPE = "icmp.type"
    ICMP_CODE = "icmp.code"
    ND_TARGET = "icmpv6.nd-target"  # guestwall's own: target address of a neighbour solicitation/advert
    CT_STATE = "ct.state"
    CT_DIRECTION = "ct.direction"
    CONNLIMIT = "ct.count"
    IPSET = "ipset"


class Shape(enum.Enum):
    """How a composite's attributes form one operand."""

    VALUE = "value"  # one attribute, exact value (or a set of flags/states)
    MASKED = "masked"  # address + optional mask -> Prefix
    RANGE = "range"  # start + optional end -> Range
    IPSET = "ipset"  # ipset name + flags


@dataclass(frozen=True)
class Composite:
    """One test built from a base attribute (required) and an optional second one (mask, end)."""

    field: Field
    base: str
    extra: str | None = None
    shape: Shape = Shape.VALUE

    @property
    def attrs(self) -> tuple[str, ...]:
        return (self.base,) if self.extra is None else (self.base, self.extra)


def _c(field: Field, base: str, extra: str | None = None, shape: Shape | None = None) -> Composite:
    if shape is None:
        shape = Shape.VALUE if extra is None else Shape.MASKED
    return Composite(field, base, extra, shape)


_SRC_MAC = _c(Field.ETHER_SRC, "srcmacaddr", "srcmacmask")
_DST_MAC = _c(Field.ETHER_DST, "dstmacaddr", "dstmacmask")
_MACPROPS = (_SRC_MAC, _DST_MAC)
_PORTS = (
    _c(Field.L4_SPORT, "srcportstart", "srcportend", Shape.RANGE),
    _c(Field.L4_DPORT, "dstportstart", "dstportend", Shape.RANGE),
)
_STP = (
    _c(Field.ETHER_SRC, "srcmacaddr", "srcmacmask"),
    _c(Field.STP_TYPE, "type"),
    _c(Field.STP_FLAGS, "flags"),
    _c(Field.STP_ROOT_PRIO, "root-priority", "root-priority-hi", Shape.RANGE),
    _c(Field.STP_ROOT_ADDR, "root-address", "root-address-mask"),
    _c(Field.STP_ROOT_COST, "root-cost", "root-cost-hi", Shape.RANGE),
    _c(Field.STP_SENDER_PRIO, "sender-priority", "sender-priority-hi", Shape.RANGE),
    _c(Field.STP_SENDER_ADDR, "sender-address", "sender-address-mask"),
    _c(Field.STP_PORT, "port", "port-hi", Shape.RANGE),
    _c(Field.STP_AGE, "age", "age-hi", Shape.RANGE),
    _c(Field.STP_MAX_AGE, "max-age", "max-age-hi", Shape.RANGE),
    _c(Field.STP_HELLO, "hello-time", "hello-time-hi", Shape.RANGE),
    _c(Field.STP_FWD_DELAY, "forward-delay", "forward-delay-hi", Shape.RANGE),
)
_ARP = (
    *_MACPROPS,
    _c(Field.ARP_HTYPE, "hwtype"),
    _c(Field.ARP_PTYPE, "protocoltype"),
    _c(Field.ARP_OP, "opcode"),
    _c(Field.ARP_SHA, "arpsrcmacaddr"),
    _c(Field.ARP_THA, "arpdstmacaddr"),
    _c(Field.ARP_SPA, "arpsrcipaddr", "arpsrcipmask"),
    _c(Field.ARP_TPA, "arpdstipaddr", "arpdstipmask"),
    _c(Field.ARP_GRATUITOUS, "gratuitous"),
)


def _ip_common(src: Field, dst: Field) -> tuple[Composite, ...]:
    return (
        _c(Field.ETHER_SRC, "srcmacaddr"),
        _c(src, "srcipaddr", "srcipmask"),
        _c(dst, "dstipaddr", "dstipmask"),
        _c(src, "srcipfrom", "srcipto", Shape.RANGE),
        _c(dst, "dstipfrom", "dstipto", Shape.RANGE),
        _c(Field.IP_DSCP, "dscp"),
        _c(Field.CONNLIMIT, "connlimit-above"),
        _c(Field.CT_STATE, "state"),
        _c(Field.IPSET, "ipset", "ipsetflags", Shape.IPSET),
    )


_V4 = _ip_common(Field.IP4_SRC, Field.IP4_DST)
_V6 = _ip_common(Field.IP6_SRC, Field.IP6_DST)
_TCP_EXTRA = (_c(Field.TCP_OPTION, "option"), _c(Field.TCP_FLAGS, "flags"))
_ICMP = (_c(Field.ICMP_TYPE, "type"), _c(Field.ICMP_CODE, "code"))

COMPOSITES: dict[str, tuple[Composite, ...]] = {
    "mac": (*_MACPROPS, _c(Field.ETHER_TYPE, "protocolid")),
    "vlan": (*_MACPROPS, _c(Field.VLAN_ID, "vlanid"), _c(Field.VLAN_TYPE, "encap-protocol")),
    "stp": _STP,
    "arp": _ARP,
    "rarp": _ARP,
    "ip": (
        *_MACPROPS,
        _c(Field.IP4_SRC, "srcipaddr", "srcipmask"),
        _c(Field.IP4_DST, "dstipaddr", "dstipmask"),
        _c(Field.IP_PROTO, "protocol"),
        *_PORTS,
        _c(Field.IP_DSCP, "dscp"),
    ),
    "ipv6": (
        *_MACPROPS,
        _c(Field.IP6_SRC, "srcipaddr", "srcipmask"),
        _c(Field.IP6_DST, "dstipaddr", "dstipmask"),
        _c(Field.IP_PROTO, "protocol"),
        *_PORTS,
        _c(Field.ICMP_TYPE, "type", "typeend", Shape.RANGE),
        _c(Field.ICMP_CODE, "code", "codeend", Shape.RANGE),
        _c(Field.ND_TARGET, "ndtargetaddr", "ndtargetmask"),
    ),
    "tcp": (*_V4, *_PORTS, *_TCP_EXTRA),
    "udp": (*_V4, *_PORTS),
    "sctp": (*_V4, *_PORTS),
    "udplite": _V4,
    "esp": _V4,
    "ah": _V4,
    "all": _V4,
    "igmp": _V4,
    "icmp": (*_V4, *_ICMP),
    "tcp-ipv6": (*_V6, *_PORTS, _c(Field.TCP_OPTION, "option")),
    "udp-ipv6": (*_V6, *_PORTS),
    "sctp-ipv6": (*_V6, *_PORTS),
    "udplite-ipv6": _V6,
    "esp-ipv6": _V6,
    "ah-ipv6": _V6,
    "all-ipv6": _V6,
    "icmpv6": (*_V6, *_ICMP),
}

# Attributes that are not tests at all.
NON_MATCHING = frozenset({"comment"})

# IP protocol numbers of the layer-3/4 elements (None: any protocol).
L4_PROTOCOL: dict[str, int | None] = {
    "tcp": 6,
    "udp": 17,
    "sctp": 132,
    "udplite": 136,
    "esp": 50,
    "ah": 51,
    "all": None,
    "igmp": 2,
    "icmp": 1,
    "tcp-ipv6": 6,
    "udp-ipv6": 17,
    "sctp-ipv6": 132,
    "udplite-ipv6": 136,
    "esp-ipv6": 50,
    "ah-ipv6": 51,
    "all-ipv6": None,
    "icmpv6": 58,
}

# Which fields swap when a rule is applied in the reverse direction (libvirt's "reverse"/"directionIn").
SWAP: dict[Field, Field] = {
    Field.ETHER_SRC: Field.ETHER_DST,
    Field.ETHER_DST: Field.ETHER_SRC,
    Field.ARP_SHA: Field.ARP_THA,
    Field.ARP_THA: Field.ARP_SHA,
    Field.ARP_SPA: Field.ARP_TPA,
    Field.ARP_TPA: Field.ARP_SPA,
    Field.IP4_SRC: Field.IP4_DST,
    Field.IP4_DST: Field.IP4_SRC,
    Field.IP6_SRC: Field.IP6_DST,
    Field.IP6_DST: Field.IP6_SRC,
    Field.L4_SPORT: Field.L4_DPORT,
    Field.L4_DPORT: Field.L4_SPORT,
}


# Ethertype tests that send a frame from the root chain into a sub-chain, by chain-name prefix, in the
# order libvirt matches them (its l3_protocols table); mac jumps unconditionally, stp by destination MAC.
@dataclass(frozen=True)
class SubchainTest:
    """Frames enter a sub-chain whose name starts with ``prefix`` when ``field`` equals ``value`` (always,
    when ``field`` is None)."""

    prefix: str
    field: Field | None = None
    value: int | MacAddress | None = None


SUBCHAIN_PREFIXES: tuple[SubchainTest, ...] = (
    SubchainTest("ipv4", Field.ETHER_TYPE, 0x0800),
    SubchainTest("ipv6", Field.ETHER_TYPE, 0x86DD),
    SubchainTest("arp", Field.ETHER_TYPE, 0x0806),
    SubchainTest("rarp", Field.ETHER_TYPE, 0x8035),
    SubchainTest("vlan", Field.ETHER_TYPE, 0x8100),
    SubchainTest("stp", Field.ETHER_DST, STP_GROUP),
    SubchainTest("mac"),
)
