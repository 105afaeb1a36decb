"""nftables data types: what a set's key components and a map's values are (``type ifname . ipv4_addr :
verdict``). Declared by the compiler and the network layer, rendered by ``nft.render``, and parsed back from
the kernel's listing by ``dataplane.state``: one value for one name, so a misspelt type is a type error.
"""

from __future__ import annotations

import enum


class DataType(enum.StrEnum):
    """The nft data types guestwall's sets and maps use, named as nft names (and lists) them."""

    IFNAME = "ifname"
    ETHER_ADDR = "ether_addr"
    ETHER_TYPE = "ether_type"
    IPV4_ADDR = "ipv4_addr"
    IPV6_ADDR = "ipv6_addr"
    INET_PROTO = "inet_proto"
    INET_SERVICE = "inet_service"
    ICMP_TYPE = "icmp_type"
    ICMP_CODE = "icmp_code"
    ICMPV6_TYPE = "icmpv6_type"
    ICMPV6_CODE = "icmpv6_code"
    MARK = "mark"
    INTEGER = "integer"  # a plain number: a component only ``typeof`` can declare (raw payload fields)
    VERDICT = "verdict"  # a verdict map's value
    # what nft 1.0.6 lists for a component declared by ``typeof`` (the compiler's INTEGER) whose expression
    # has its own type: ``ip dscp``, ``ip6 dscp`` -> dscp; ``arp operation`` -> arp_op
    DSCP = "dscp"
    ARP_OP = "arp_op"


_BY_NAME = {t.value: t for t in DataType}


def parse_type(name: object) -> DataType | None:
    """A type name as the kernel lists it, or None when guestwall does not know it."""
    return _BY_NAME.get(name) if isinstance(name, str) else None


def address_type(family: int) -> DataType:
    """The address type of an IP family (4 or 6)."""
    return DataType.IPV6_ADDR if family == 6 else DataType.IPV4_ADDR
