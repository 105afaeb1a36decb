"""A packet described in words, e.g. ``smac=52:54:00:00:00:05 arp op=reply sip=10.77.0.10``.

Tokens are ``key=value`` pairs or a bare protocol word (arp, rarp, ip, ip6, tcp, udp, icmp, icmpv6, ...).
Keys: smac dmac type vlan vlantype | op sha spa tha tpa (ARP) | src dst proto dscp | sport dport flags |
type/code of ICMP via icmptype icmpcode, ndtarget (neighbour discovery target) |
state (new|established|related|invalid) dir (original|reply).
Missing header fields stay absent: a check on an absent field does not match (as in nftables).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address, ip_address

from guestwall.errors import InputError
from guestwall.instantiate.fields import Field
from guestwall.model.mac import MacAddress

_ETHERTYPES = {
    "ip": 0x0800,
    "ipv4": 0x0800,
    "arp": 0x0806,
    "rarp": 0x8035,
    "ip6": 0x86DD,
    "ipv6": 0x86DD,
    "vlan": 0x8100,
}
_PROTOS = {
    "tcp": 6,
    "udp": 17,
    "icmp": 1,
    "igmp": 2,
    "esp": 50,
    "ah": 51,
    "sctp": 132,
    "udplite": 136,
    "icmpv6": 58,
}
_ARP_OPS = {"request": 1, "reply": 2, "request_reverse": 3, "reply_reverse": 4}
_TCP_FLAGS = {"fin": 1, "syn": 2, "rst": 4, "psh": 8, "ack": 16, "urg": 32}
_STATES = ("new", "established", "related", "invalid")


class PacketError(InputError):
    code = "invalid argument"


@dataclass
class Packet:
    """Field values of one frame; absent fields are missing from ``fields``."""

    fields: dict[Field, object] = field(default_factory=dict)

    def get(self, f: Field) -> object | None:
        return self.fields.get(f)

    @property
    def is_ip(self) -> bool:
        return self.fields.get(Field.ETHER_TYPE) in (0x0800, 0x86DD)

    @property
    def family(self) -> int | None:
        ether_type = self.fields.get(Field.ETHER_TYPE)
        return 4 if ether_type == 0x0800 else 6 if ether_type == 0x86DD else None

    def describe(self) -> str:
        return " ".join(f"{k.value}={_show(v)}" for k, v in self.fields.items())


def _show(value: object) -> str:
    return hex(value) if isinstance(value, int) and value > 255 else str(value)


def _mac(text: str) -> MacAddress:
    mac = MacAddress.parse(text)
    if mac is None:
        raise PacketError(f"'{text}' is not a MAC address")
    return mac


def _int(text: str, table: dict[str, int] | None = None) -> int:
    if table and text.lower() in table:
        return table[text.lower()]
    try:
        return int(text, 0)
    except ValueError:
        known = f" (or one of {', '.join(table)})" if table else ""
        raise PacketError(f"'{text}' is not a number{known}") from None


def _ip(text: str) -> IPv4Address | IPv6Address:
    try:
        return ip_address(text)
    except ValueError:
        raise PacketError(f"'{text}' is not an IP address") from None


def parse_packet(text: str) -> Packet:
    """Parse a description; fills in what is implied (ether type from addresses, IP protocol from ports)."""
    f: dict[Field, object] = {}
    try:
        tokens = shlex.split(text)
    except ValueError as e:  # an unclosed quote
        raise PacketError(f"cannot read the packet description: {e}") from None
    for token in tokens:
        key, _, value = token.partition("=")
        key = key.lower()
        if not value:
            if key in _ETHERTYPES:
                f[Field.ETHER_TYPE] = _ETHERTYPES[key]
            elif key in _PROTOS:
                f[Field.IP_PROTO] = _PROTOS[key]
            elif key in _STATES:
                f[Field.CT_STATE] = key
            else:
                raise PacketError(f"unknown word '{token}' in packet description")
            continue
        _set(f, key, value)
    _imply(f)
    return Packet(f)


# Widths of the numeric keys, in bits: values outside them cannot be in a packet.
_WIDTH = {"vlan": 12, "sport": 16, "dport": 16, "dscp": 6, "icmptype": 8, "icmpcode": 8}


def _bounded(key: str, text: str, value: object, bits: int) -> int:
    assert isinstance(value, int)
    if not 0 <= value < 1 << bits:
        raise PacketError(f"{key}={text} is out of range: expected 0 to {(1 << bits) - 1}")
    return value


def _set(f: dict[Field, object], key: str, value: str) -> None:
    simple = {
        "smac": (Field.ETHER_SRC, _mac),
        "dmac": (Field.ETHER_DST, _mac),
        "sha": (Field.ARP_SHA, _mac),
        "tha": (Field.ARP_THA, _mac),
        "spa": (Field.ARP_SPA, _ip),
        "tpa": (Field.ARP_TPA, _ip),
        "vlan": (Field.VLAN_ID, _int),
        "sport": (Field.L4_SPORT, _int),
        "dport": (Field.L4_DPORT, _int),
        "dscp": (Field.IP_DSCP, _int),
        "icmptype": (Field.ICMP_TYPE, _int),
        "icmpcode": (Field.ICMP_CODE, _int),
        "ndtarget": (Field.ND_TARGET, _ip),
    }
    if key in simple:
        fld, conv = simple[key]
        f[fld] = conv(value)  # type: ignore[operator]
        bits = _WIDTH.get(key)
        if bits is not None:
            _bounded(key, value, f[fld], bits)
    elif key == "type":
        f[Field.ETHER_TYPE] = _bounded(key, value, _int(value, _ETHERTYPES), 16)
    elif key == "vlantype":
        f[Field.VLAN_TYPE] = _bounded(key, value, _int(value, _ETHERTYPES), 16)
    elif key == "op":
        f[Field.ARP_OP] = _int(value, _ARP_OPS)
    elif key in ("src", "dst"):
        addr = _ip(value)
        six = isinstance(addr, IPv6Address)
        f[
            {
                ("src", False): Field.IP4_SRC,
                ("src", True): Field.IP6_SRC,
                ("dst", False): Field.IP4_DST,
                ("dst", True): Field.IP6_DST,
            }[(key, six)]
        ] = addr
    elif key == "proto":
        f[Field.IP_PROTO] = _bounded(key, value, _int(value, _PROTOS), 8)
    elif key == "flags":
        f[Field.TCP_FLAGS] = sum(_int(x, _TCP_FLAGS) for x in value.replace("|", ",").split(",") if x)
    elif key == "state":
        if value.lower() not in _STATES:
            raise PacketError(f"state must be one of {', '.join(_STATES)}, not '{value}'")
        f[Field.CT_STATE] = value.lower()
    elif key == "dir":
        if value.lower() not in ("original", "reply"):
            raise PacketError(f"dir must be original or reply, not '{value}'")
        f[Field.CT_DIRECTION] = value.lower()
    else:
        raise PacketError(f"unknown key '{key}' in packet description")


def _imply(f: dict[Field, object]) -> None:
    if Field.ETHER_TYPE not in f:
        if Field.IP6_SRC in f or Field.IP6_DST in f:
            f[Field.ETHER_TYPE] = 0x86DD
        elif Field.IP4_SRC in f or Field.IP4_DST in f or Field.IP_PROTO in f:
            f[Field.ETHER_TYPE] = 0x0800
        elif any(k in f for k in (Field.ARP_OP, Field.ARP_SPA, Field.ARP_TPA, Field.ARP_SHA)):
            f[Field.ETHER_TYPE] = 0x0806
    et = f.get(Field.ETHER_TYPE)
    if et in (0x0800, 0x86DD):
        f.setdefault(Field.NFPROTO, 4 if et == 0x0800 else 6)
        f.setdefault(Field.CT_STATE, "new")
        f.setdefault(Field.CT_DIRECTION, "original")
        if Field.IP_PROTO not in f and (Field.L4_DPORT in f or Field.L4_SPORT in f):
            f[Field.IP_PROTO] = 6
    if et in (0x0806, 0x8035):
        f.setdefault(Field.ARP_HTYPE, 1)
        f.setdefault(Field.ARP_PTYPE, 0x0800)
    if Field.ETHER_SRC in f and et in (0x0806, 0x8035):
        f.setdefault(Field.ARP_SHA, f[Field.ETHER_SRC])
