"""The language table itself, and the chain rules: the shape libvirt's tables have."""

from __future__ import annotations

import pytest

from guestwall.errors import FilterError
from guestwall.model.filter import DataType
from guestwall.nwfilter.schema import (
    PROTOCOLS,
    chain_prefix,
    default_chain_priority,
    validate_chain_name,
)
from guestwall.nwfilter.validate import VALUE_TYPES
from guestwall.nwfilter.valuesets import NAME_SETS

VIRATTR_ORDER = [
    "arp",
    "rarp",
    "mac",
    "vlan",
    "stp",
    "ip",
    "ipv6",
    "tcp",
    "udp",
    "udplite",
    "esp",
    "ah",
    "sctp",
    "icmp",
    "all",
    "igmp",
    "tcp-ipv6",
    "udp-ipv6",
    "udplite-ipv6",
    "esp-ipv6",
    "ah-ipv6",
    "sctp-ipv6",
    "icmpv6",
    "all-ipv6",
]


def test_protocols_in_libvirt_order_with_layers() -> None:
    assert list(PROTOCOLS) == VIRATTR_ORDER
    layers = {name: spec.layer for name, spec in PROTOCOLS.items()}
    assert {n for n, layer in layers.items() if layer == "eb"} == {
        "mac",
        "vlan",
        "stp",
        "arp",
        "rarp",
        "ip",
        "ipv6",
    }
    v4 = {"tcp", "udp", "udplite", "esp", "ah", "sctp", "icmp", "igmp", "all"}
    assert {n for n, layer in layers.items() if layer == "ipv4"} == v4
    assert {n for n, layer in layers.items() if layer == "ipv6"} == {
        f"{p}-ipv6" for p in v4 - {"icmp", "igmp"}
    } | {"icmpv6"}


def test_every_row_is_consistent() -> None:
    for spec in PROTOCOLS.values():
        names = spec.names
        assert len(names) == len(set(names)), spec.element
        assert names[-1] == "comment"
        for attr in spec.attrs:
            assert attr.datatypes, (spec.element, attr.name)
            assert DataType.VARIABLE not in attr.datatypes
            if attr.negation_source is not None:
                assert attr.negation_source in names, (spec.element, attr.name)
                assert names.index(attr.negation_source) < names.index(attr.name)
            if DataType.STRING in attr.datatypes:
                assert attr.names is not None
            if attr.names in NAME_SETS:
                assert DataType.STRING in attr.datatypes
            if attr.rng is not None:
                assert attr.rng in VALUE_TYPES
        for _, rng in spec.schema_only:
            assert rng in VALUE_TYPES


def test_attribute_tables() -> None:
    mac = ("srcmacaddr", "srcmacmask", "dstmacaddr", "dstmacmask")
    assert PROTOCOLS["mac"].names == (*mac, "protocolid", "comment")
    assert PROTOCOLS["vlan"].names == (*mac, "vlanid", "encap-protocol", "comment")
    arp = (*mac, "hwtype", "protocoltype", "opcode", "arpsrcmacaddr", "arpdstmacaddr", "arpsrcipaddr")
    assert PROTOCOLS["arp"].names == (
        *arp,
        "arpsrcipmask",
        "arpdstipaddr",
        "arpdstipmask",
        "gratuitous",
        "comment",
    )
    assert PROTOCOLS["rarp"].names == PROTOCOLS["arp"].names
    common: tuple[str, ...] = ("srcmacaddr", "srcipaddr", "srcipmask", "dstipaddr", "dstipmask", "srcipfrom")
    common += ("srcipto", "dstipfrom", "dstipto", "dscp", "connlimit-above", "state", "ipset", "ipsetflags")
    ports = ("srcportstart", "srcportend", "dstportstart", "dstportend")
    assert PROTOCOLS["tcp"].names == (*common, *ports, "option", "flags", "comment")
    assert PROTOCOLS["tcp-ipv6"].names == (*common, *ports, "option", "comment")  # no flags (libvirt)
    assert PROTOCOLS["icmp"].names == (*common, "type", "code", "comment")
    assert PROTOCOLS["all-ipv6"].names == (*common, "comment")
    ip = (*mac, "srcipaddr", "srcipmask", "dstipaddr", "dstipmask", "protocol", *ports)
    assert PROTOCOLS["ip"].names == (*ip, "dscp", "comment")
    # ndtargetaddr/ndtargetmask: guestwall's own (the neighbour discovery target), not in libvirt's schema
    nd = ("ndtargetaddr", "ndtargetmask")
    assert PROTOCOLS["ipv6"].names == (*ip, "type", "typeend", "code", "codeend", *nd, "comment")
    assert all(PROTOCOLS["ipv6"].attr(a).rng is None for a in nd)  # type: ignore[union-attr]
    stp = PROTOCOLS["stp"].names
    assert stp[:4] == ("srcmacaddr", "srcmacmask", "type", "flags")
    assert "dstmacaddr" not in stp and "age-hi" in stp and "msg-age" not in stp


def test_datatypes_of_note() -> None:
    assert PROTOCOLS["tcp-ipv6"].attr("dstipto").datatypes == (DataType.IPADDR,)  # type: ignore[union-attr]
    assert PROTOCOLS["tcp-ipv6"].attr("srcipto").datatypes == (DataType.IPV6ADDR,)  # type: ignore[union-attr]
    assert PROTOCOLS["tcp"].attr("connlimit-above").datatypes == (DataType.UINT16,)  # type: ignore[union-attr]
    assert PROTOCOLS["mac"].attr("protocolid").low == 0x600  # type: ignore[union-attr]


def test_negation_sources() -> None:
    def sources(protocol: str) -> dict[str, str]:
        return {a.name: a.negation_source for a in PROTOCOLS[protocol].attrs if a.negation_source}

    assert sources("tcp")["dstportstart"] == "srcportstart"
    assert sources("udp")["dstportend"] == "srcportstart"
    assert "dstportstart" not in sources("ip")
    assert "srcmacmask" not in sources("ip") and "srcmacmask" not in sources("ipv6")
    assert sources("mac")["srcmacmask"] == "srcmacaddr"
    assert sources("ipv6")["codeend"] == "type"
    assert sources("icmpv6")["code"] == "type"
    assert sources("arp") == {}
    assert sources("stp")["root-cost-hi"] == "root-cost"
    assert sources("esp") == {
        "srcipmask": "srcipaddr",
        "dstipmask": "dstipaddr",
        "srcipto": "srcipfrom",
        "dstipto": "dstipfrom",
    }


def test_ipset_fixup_flags() -> None:
    assert not PROTOCOLS["all"].ipset_fixup and not PROTOCOLS["all-ipv6"].ipset_fixup
    assert PROTOCOLS["tcp"].ipset_fixup and PROTOCOLS["icmpv6"].ipset_fixup


@pytest.mark.parametrize(
    ("chain", "prefix", "priority"),
    [
        ("root", "root", 0),
        ("mac", "mac", -800),
        ("mac-x", "mac", -800),
        ("vlan", "vlan", -750),
        ("stp", "stp", 0),  # libvirt's map lacks stp: the documented -810 is not used
        ("stpfoo", "stp", 0),
        ("arp_1", "arp", -500),
        ("arp-ip", "arp", -500),
        ("rarp", "rarp", -400),
        ("ipv4.a", "ipv4", -700),
        ("ipv6:b", "ipv6", -600),
    ],
)
def test_chains(chain: str, prefix: str, priority: int) -> None:
    assert validate_chain_name(chain) == chain
    assert chain_prefix(chain) == prefix
    assert default_chain_priority(chain) == priority


@pytest.mark.parametrize(
    ("chain", "message"),
    [
        ("toolongchainname", "Name of chain is longer than 12 characters"),
        ("mac!", "Chain name contains invalid characters"),
        (
            "foo",
            "Invalid chain name 'foo'. Please use a chain name called 'root' or any of the following"
            " prefixes: "
            "mac, vlan, stp, arp, rarp, ipv4, ipv6",
        ),
        ("MAC", "Invalid chain name 'MAC'."),
        ("rootx", "'root' is only allowed as the whole name"),
        ("root1", "'root' is only allowed as the whole name"),
    ],
)
def test_bad_chains(chain: str, message: str) -> None:
    with pytest.raises(FilterError) as info:
        validate_chain_name(chain)
    assert message in str(info.value)
    assert info.value.code == "invalid argument"
