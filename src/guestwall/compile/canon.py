"""Canonical set element values, so that what we compile and what the kernel lists compare exactly.

A component is an int, a str (interface name or lowercase MAC), an IPv4/IPv6 address, or a (lo, hi)
interval of those; nft's symbolic names (``ip``, ``tcp``, ``echo-request``) become numbers.
"""

from __future__ import annotations

import socket
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Any

from guestwall.compile.matches import Kind, int_mac, mac_bits, prefix_bounds
from guestwall.instantiate.program import Operand, Prefix, Range, Value
from guestwall.model.mac import MacAddress
from guestwall.nft.datatypes import DataType

_ETHER_TYPES = {"ip": 0x0800, "arp": 0x0806, "ip6": 0x86DD, "8021q": 0x8100, "vlan": 0x8100, "8021ad": 0x88A8}
_ICMP_TYPES = {
    "echo-reply": 0, "destination-unreachable": 3, "source-quench": 4, "redirect": 5, "echo-request": 8,
    "router-advertisement": 9, "router-solicitation": 10, "time-exceeded": 11, "parameter-problem": 12,
    "timestamp-request": 13, "timestamp-reply": 14, "info-request": 15, "info-reply": 16,
    "address-mask-request": 17, "address-mask-reply": 18,
}  # fmt: skip
_ICMPV6_TYPES = {
    "destination-unreachable": 1, "packet-too-big": 2, "time-exceeded": 3, "parameter-problem": 4,
    "echo-request": 128, "echo-reply": 129, "mld-listener-query": 130, "mld-listener-report": 131,
    "mld-listener-done": 132, "mld-listener-reduction": 132, "nd-router-solicit": 133,
    "nd-router-advert": 134,
    "nd-neighbor-solicit": 135, "nd-neighbor-advert": 136, "nd-redirect": 137, "router-renumbering": 138,
    "ind-neighbor-solicit": 141, "ind-neighbor-advert": 142, "mld2-listener-report": 143,
}  # fmt: skip
_ICMP_CODES = {
    "net-unreachable": 0, "host-unreachable": 1, "prot-unreachable": 2, "port-unreachable": 3,
    "frag-needed": 4, "net-prohibited": 9, "host-prohibited": 10, "admin-prohibited": 13,
}  # fmt: skip
_ICMPV6_CODES = {
    "no-route": 0, "admin-prohibited": 1, "addr-unreachable": 3, "port-unreachable": 4, "policy-fail": 5,
    "reject-route": 6,
}  # fmt: skip
# nft 1.0.6 lists a typeof component by its expression's type: ``ip dscp`` values and ``arp operation``
# values come back by these names (checked against the kernel: every value 0..63 and 0..12 listed)
_DSCP = {
    "cs0": 0x00, "df": 0x00, "be": 0x00, "lephb": 0x01, "cs1": 0x08, "af11": 0x0A, "af12": 0x0C, "af13": 0x0E,
    "cs2": 0x10, "af21": 0x12, "af22": 0x14, "af23": 0x16, "cs3": 0x18, "af31": 0x1A, "af32": 0x1C,
    "af33": 0x1E, "cs4": 0x20, "af41": 0x22, "af42": 0x24, "af43": 0x26, "cs5": 0x28, "va": 0x2C, "ef": 0x2E,
    "cs6": 0x30, "cs7": 0x38,
}  # fmt: skip
_ARP_OPS = {"request": 1, "reply": 2, "rrequest": 3, "rreply": 4, "inrequest": 8, "inreply": 9, "nak": 10}
_PROTO_ALIASES = {"ipv6-icmp": 58, "icmpv6": 58, "ip": 0}
_SYMBOLS: dict[DataType, dict[str, int]] = {
    DataType.ETHER_TYPE: _ETHER_TYPES,
    DataType.ICMP_TYPE: _ICMP_TYPES,
    DataType.ICMPV6_TYPE: _ICMPV6_TYPES,
    DataType.ICMP_CODE: _ICMP_CODES,
    DataType.ICMPV6_CODE: _ICMPV6_CODES,
    DataType.DSCP: _DSCP,
    DataType.ARP_OP: _ARP_OPS,
}


def _symbol(text: str, type_name: DataType) -> int:
    table = _SYMBOLS.get(type_name)
    if table is not None and text in table:
        return table[text]
    if type_name is DataType.INET_PROTO:
        if text in _PROTO_ALIASES:
            return _PROTO_ALIASES[text]
        try:
            return socket.getprotobyname(text)
        except OSError:
            pass
    return int(text, 0)


def _scalar_json(value: Any, type_name: DataType) -> object:
    if type_name is DataType.IFNAME:
        return str(value)
    if type_name is DataType.ETHER_ADDR:
        return str(value).lower()
    if type_name is DataType.IPV4_ADDR or type_name is DataType.IPV6_ADDR:
        return ip_address(value)
    if isinstance(value, int):
        return value
    return _symbol(str(value), type_name)


def _interval(lo: object, hi: object) -> object:
    return lo if lo == hi else (lo, hi)


def from_json(component: Any, type_name: DataType) -> object:
    """One element component as ``nft -j list`` shows it, made canonical."""
    if isinstance(component, dict) and "prefix" in component:
        net = ip_network(f"{component['prefix']['addr']}/{component['prefix']['len']}", strict=False)
        return _interval(net.network_address, net.broadcast_address)
    if isinstance(component, dict) and "range" in component:
        lo, hi = component["range"]
        return _interval(_scalar_json(lo, type_name), _scalar_json(hi, type_name))
    return _scalar_json(component, type_name)


def network(net: IPv4Network | IPv6Network) -> object:
    """An IP network as a canonical interval component."""
    return _interval(net.network_address, net.broadcast_address)


def _scalar_operand(value: object, kind: Kind) -> object:
    if kind is Kind.MAC:
        return str(value).lower()
    if kind is Kind.RAW_MAC:
        return value.bits if isinstance(value, MacAddress) else int(value)  # type: ignore[call-overload]
    if kind is Kind.RAW_IPV4:
        return int(IPv4Address(value))  # type: ignore[arg-type]
    if kind is Kind.RAW_IPV6:
        return int(IPv6Address(value))  # type: ignore[arg-type]
    if kind in (Kind.IPV4, Kind.IPV6):
        return value if isinstance(value, IPv4Address | IPv6Address) else ip_address(value)  # type: ignore[arg-type]
    return int(value)  # type: ignore[call-overload]


def from_operand(op: Operand, kind: Kind) -> object:
    """A program operand as a canonical element component."""
    if isinstance(op, Value):
        return _scalar_operand(op.value, kind)
    if isinstance(op, Range):
        return _interval(_scalar_operand(op.lo, kind), _scalar_operand(op.hi, kind))
    if isinstance(op, Prefix):
        if kind in (Kind.IPV4, Kind.IPV6):
            net = ip_network(f"{op.addr}/{op.length}", strict=False)
            return _interval(net.network_address, net.broadcast_address)
        if kind is Kind.MAC:
            lo, hi = prefix_bounds(mac_bits(op.addr), op.length, 48)
            return _interval(int_mac(lo), int_mac(hi))
        base = _scalar_operand(op.addr, kind)
        assert isinstance(base, int)
        width = 48 if kind is Kind.RAW_MAC else 128 if kind is Kind.RAW_IPV6 else 32
        return _interval(*prefix_bounds(base, op.length, width))
    raise ValueError(f"{op} cannot be a set element")


def _bounds(component: object) -> tuple[int, int] | None:
    """A component as numeric (lo, hi), or None when it is not a number, an address or an interval of them."""
    lo, hi = component if isinstance(component, tuple) else (component, component)
    if isinstance(lo, int | IPv4Address | IPv6Address) and type(lo) is type(hi):
        return int(lo), int(hi)  # type: ignore[arg-type]
    return None


def _from_bounds(lo: int, hi: int, like: object) -> object:
    sample = like[0] if isinstance(like, tuple) else like
    if isinstance(sample, IPv4Address | IPv6Address):
        return _interval(type(sample)(lo), type(sample)(hi))
    return _interval(lo, hi)


def merged(elements: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    """One port's elements with overlapping intervals merged (an allowed address pair covering the port's
    own address, 0.0.0.0/0 next to anything): the kernel refuses overlaps in an interval set. Elements are
    merged along the one component in which they differ; others are left as they are."""
    out = list(dict.fromkeys(elements))
    for position in range(1, max((len(e) for e in out), default=0)):
        groups: dict[tuple[object, ...], list[tuple[object, ...]]] = {}
        for element in out:
            groups.setdefault(element[:position] + element[position + 1 :], []).append(element)
        result: list[tuple[object, ...]] = []
        for rest, members in groups.items():
            spans = [_bounds(m[position]) for m in members]
            if len(members) == 1 or any(s is None for s in spans):
                result.extend(members)
                continue
            ordered = sorted(zip(spans, members, strict=True), key=lambda pair: pair[0])  # type: ignore[arg-type,return-value]
            lo, hi = ordered[0][0]  # type: ignore[misc]
            for span, _ in ordered[1:]:
                assert span is not None
                if span[0] <= hi:
                    hi = max(hi, span[1])
                    continue
                result.append(
                    (*rest[:position], _from_bounds(lo, hi, members[0][position]), *rest[position:])
                )
                lo, hi = span
            result.append((*rest[:position], _from_bounds(lo, hi, members[0][position]), *rest[position:]))
        out = result
    return out
