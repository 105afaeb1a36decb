"""THE table of libvirt's filter language: protocol elements (libvirt's ``virAttr`` order), their attributes
(table order = output order), datatypes and fixups. Parsing, validation and formatting loop over it;
adding an attribute is adding one row. Chain rules live in ``chains`` and are re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

from guestwall.model.filter import DataType
from guestwall.nwfilter.chains import (
    CHAIN_PREFIXES,
    chain_prefix,
    default_chain_priority,
    validate_chain_name,
)
from guestwall.nwfilter.valuesets import COMMENT_MAX_BYTES

__all__ = [
    "CHAIN_PREFIXES",
    "PROTOCOLS",
    "AttrSpec",
    "ProtocolSpec",
    "attr_spec",
    "chain_prefix",
    "default_chain_priority",
    "validate_chain_name",
]

D = DataType


@dataclass(frozen=True)
class AttrSpec:
    """One attribute of a protocol element.

    ``datatypes`` are tried in order, the first that parses wins. ``low``/``high`` bound numeric values
    (libvirt's validators; a number out of bounds is illegal, no further datatype is tried). ``names`` is
    the key of a value set in ``valuesets`` (for STRING and for printing numbers by name).
    ``negation_source`` names the attribute whose negation this one takes after parsing (libvirt's
    ``COPY_NEG_SIGN`` fixup). ``max_bytes`` truncates STRINGCOPY values. ``rng`` is the value type that
    the schema check (``validate=True``) applies, None when libvirt's schema does not allow the attribute.
    """

    name: str
    datatypes: tuple[DataType, ...]
    low: int | None = None
    high: int | None = None
    names: str | None = None
    negation_source: str | None = None
    max_bytes: int | None = None
    rng: str | None = None


@dataclass(frozen=True)
class ProtocolSpec:
    """A protocol element: its name, layer ("eb", "ipv4" or "ipv6"), attributes in table order, whether
    libvirt's ipset fixup applies, and attributes that only the schema knows (accepted, then ignored)."""

    element: str
    layer: str
    attrs: tuple[AttrSpec, ...]
    ipset_fixup: bool = False
    schema_only: tuple[tuple[str, str], ...] = ()

    def attr(self, name: str) -> AttrSpec | None:
        for spec in self.attrs:
            if spec.name == name:
                return spec
        return None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.attrs)


# ----- row builders (shared groups, as libvirt's tables have them) -----

U8 = (D.UINT8, D.UINT8_HEX)
U16 = (D.UINT16, D.UINT16_HEX)
U32 = (D.UINT32, D.UINT32_HEX)


def _a(
    name: str,
    types: tuple[DataType, ...],
    rng: str | None,
    *,
    low: int | None = None,
    high: int | None = None,
    names: str | None = None,
    negation_source: str | None = None,
    max_bytes: int | None = None,
) -> AttrSpec:
    return AttrSpec(name, types, low, high, names, negation_source, max_bytes, rng)


def _mac(name: str, neg: str | None = None) -> AttrSpec:
    return _a(name, (D.MACADDR,), "mac", negation_source=neg)


def _macmask(name: str, base: str) -> AttrSpec:
    return _a(name, (D.MACMASK,), "mac", negation_source=base)


COMMENT = _a("comment", (D.STRINGCOPY,), "comment", max_bytes=COMMENT_MAX_BYTES)

MACPROPS = (
    _mac("srcmacaddr"),
    _macmask("srcmacmask", "srcmacaddr"),
    _mac("dstmacaddr"),
    _macmask("dstmacmask", "dstmacaddr"),
)


def _ports(neg_from_srcstart: bool) -> tuple[AttrSpec, ...]:
    src = "srcportstart" if neg_from_srcstart else None
    return (
        _a("srcportstart", U16, "uint16"),
        _a("srcportend", U16, "uint16", negation_source=src),
        _a("dstportstart", U16, "uint16", negation_source=src),
        _a("dstportend", U16, "uint16", negation_source=src),
    )


def _ip_addrs(v6: bool) -> tuple[AttrSpec, ...]:
    addr = (D.IPV6ADDR,) if v6 else (D.IPADDR,)
    mask = (D.IPV6MASK,) if v6 else (D.IPMASK,)
    rng_a, rng_m = ("ipv6", "ipv6mask") if v6 else ("ipv4", "ipv4mask")
    return (
        _a("srcipaddr", addr, rng_a),
        _a("srcipmask", mask, rng_m, negation_source="srcipaddr"),
        _a("dstipaddr", addr, rng_a),
        _a("dstipmask", mask, rng_m, negation_source="dstipaddr"),
    )


DSCP = _a("dscp", U8, "uint6", high=63)
PROTOCOL = _a("protocol", (D.UINT8, D.UINT8_HEX, D.STRING), "ip-protocol", names="ip-protocol")


def _common_ip(v6: bool) -> tuple[AttrSpec, ...]:
    """libvirt's COMMON_IP_PROPS. ``dstipto`` is IPv4-typed even for the -ipv6 elements (libvirt bug, kept:
    it is what libvirt accepts). The schema has no connlimit/state/ipset for the -ipv6 elements."""
    addr = (D.IPV6ADDR,) if v6 else (D.IPADDR,)
    rng_a = "ipv6" if v6 else "ipv4"

    def v4_schema(rng: str) -> str | None:
        return None if v6 else rng

    return (
        _a("srcmacaddr", (D.MACADDR,), "mac"),
        *_ip_addrs(v6),
        _a("srcipfrom", addr, rng_a),
        _a("srcipto", addr, rng_a, negation_source="srcipfrom"),
        _a("dstipfrom", addr, rng_a),
        _a("dstipto", (D.IPADDR,), rng_a, negation_source="dstipfrom"),
        DSCP,
        _a("connlimit-above", (D.UINT16,), v4_schema("uint16")),
        _a("state", (D.STRING,), v4_schema("ct-state"), names="ct-state"),
        _a("ipset", (D.IPSETNAME,), v4_schema("ipset-name")),
        _a("ipsetflags", (D.IPSETFLAGS,), v4_schema("ipset-flags")),
    )


def _ip_proto(element: str, v6: bool, middle: tuple[AttrSpec, ...] = (), fixup: bool = True) -> ProtocolSpec:
    return ProtocolSpec(
        element, "ipv6" if v6 else "ipv4", (*_common_ip(v6), *middle, COMMENT), ipset_fixup=fixup
    )


ICMP_TYPE = (
    _a("type", U8, "uint8"),
    _a("code", U8, "uint8", negation_source="type"),
)
TCP_OPTION = _a("option", U8, None)
TCP_FLAGS = _a("flags", (D.STRING,), "tcp-flags", names="tcp-flags")


def _stp() -> ProtocolSpec:
    def pair(name: str, types: tuple[DataType, ...], rng: str) -> tuple[AttrSpec, AttrSpec]:
        return _a(name, types, rng), _a(f"{name}-hi", types, rng, negation_source=name)

    attrs = (
        _mac("srcmacaddr"),
        _macmask("srcmacmask", "srcmacaddr"),
        _a("type", U8, "uint8"),
        _a("flags", U8, "uint8"),
        *pair("root-priority", U16, "uint16"),
        _mac("root-address"),
        _macmask("root-address-mask", "root-address"),
        *pair("root-cost", U32, "uint32"),
        *pair("sender-priority", U16, "uint16"),
        _mac("sender-address"),
        _macmask("sender-address-mask", "sender-address"),
        *pair("port", U16, "uint16"),
        *pair("age", U16, "uint16"),
        *pair("max-age", U16, "uint16"),
        *pair("hello-time", U16, "uint16"),
        *pair("forward-delay", U16, "uint16"),
        COMMENT,
    )
    return ProtocolSpec("stp", "eb", attrs)


def _arp(element: str) -> ProtocolSpec:
    attrs = (
        *MACPROPS,
        _a("hwtype", U16, "uint16"),
        _a("protocoltype", U16, "uint16"),
        _a("opcode", (*U16, D.STRING), "arp-opcode", names="arp-opcode"),
        _a("arpsrcmacaddr", (D.MACADDR,), "mac"),
        _a("arpdstmacaddr", (D.MACADDR,), "mac"),
        _a("arpsrcipaddr", (D.IPADDR,), "ipv4"),
        _a("arpsrcipmask", (D.IPMASK,), None),
        _a("arpdstipaddr", (D.IPADDR,), "ipv4"),
        _a("arpdstipmask", (D.IPMASK,), None),
        _a("gratuitous", (D.BOOLEAN,), "boolean"),
        COMMENT,
    )
    # No negation fixup for arp/rarp: the masks keep their own flag.
    return ProtocolSpec(element, "eb", tuple(replace(a, negation_source=None) for a in attrs))


def _mac_proto() -> ProtocolSpec:
    protocolid = _a("protocolid", (*U16, D.STRING), "ethertype", low=0x600, names="ethertype")
    return ProtocolSpec("mac", "eb", (*MACPROPS, protocolid, COMMENT))


def _vlan() -> ProtocolSpec:
    attrs = (
        *MACPROPS,
        _a("vlanid", U16, "vlanid", high=4095),
        _a("encap-protocol", (*U16, D.STRING), "ethertype", low=0x3C, names="ethertype"),
        COMMENT,
    )
    return ProtocolSpec("vlan", "eb", attrs)


# guestwall's own (not libvirt's, so not in its schema): the target address of a neighbour solicitation or
# advertisement, which nwfilter cannot test; the cloud layer drops advertisements for addresses a port does
# not own with it (docs/compatibility.md).
ND_TARGET = (
    _a("ndtargetaddr", (D.IPV6ADDR,), None),
    _a("ndtargetmask", (D.IPV6MASK,), None, negation_source="ndtargetaddr"),
)

# ip and ipv6 fix up the negation of their IP masks only; their MAC masks keep their own flag.
MACPROPS_OWN_NEGATION = tuple(replace(a, negation_source=None) for a in MACPROPS)


def _ip() -> ProtocolSpec:
    attrs = (*MACPROPS_OWN_NEGATION, *_ip_addrs(False), PROTOCOL, *_ports(False), DSCP, COMMENT)
    return ProtocolSpec("ip", "eb", attrs, ipset_fixup=True)


def _ipv6() -> ProtocolSpec:
    attrs = (
        *MACPROPS_OWN_NEGATION,
        *_ip_addrs(True),
        PROTOCOL,
        *_ports(False),
        _a("type", U8, "uint8"),
        _a("typeend", U8, "uint8", negation_source="type"),
        _a("code", U8, "uint8", negation_source="type"),
        _a("codeend", U8, "uint8", negation_source="type"),
        *ND_TARGET,
        COMMENT,
    )
    return ProtocolSpec("ipv6", "eb", attrs, ipset_fixup=True)


def _build() -> dict[str, ProtocolSpec]:
    ports = _ports(True)
    table = [
        _arp("arp"),
        _arp("rarp"),
        _mac_proto(),
        _vlan(),
        _stp(),
        _ip(),
        _ipv6(),
        _ip_proto("tcp", False, (*ports, TCP_OPTION, TCP_FLAGS)),
        _ip_proto("udp", False, ports),
        _ip_proto("udplite", False),
        _ip_proto("esp", False),
        _ip_proto("ah", False),
        _ip_proto("sctp", False, ports),
        _ip_proto("icmp", False, ICMP_TYPE),
        _ip_proto("all", False, fixup=False),
        _ip_proto("igmp", False),
        replace(_ip_proto("tcp-ipv6", True, (*ports, TCP_OPTION)), schema_only=(("flags", "tcp-flags"),)),
        _ip_proto("udp-ipv6", True, ports),
        _ip_proto("udplite-ipv6", True),
        _ip_proto("esp-ipv6", True),
        _ip_proto("ah-ipv6", True),
        _ip_proto("sctp-ipv6", True, ports),
        _ip_proto("icmpv6", True, ICMP_TYPE),
        _ip_proto("all-ipv6", True, fixup=False),
    ]
    return {spec.element: spec for spec in table}


PROTOCOLS: Mapping[str, ProtocolSpec] = MappingProxyType(_build())


def attr_spec(protocol: str, attr: str) -> AttrSpec | None:
    spec = PROTOCOLS.get(protocol)
    return spec.attr(attr) if spec else None
