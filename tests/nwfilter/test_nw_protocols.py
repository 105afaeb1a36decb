"""Per protocol element: every attribute parses, prints in table order and round-trips; every attribute's
illegal values are rejected with the attribute name in the message."""

from __future__ import annotations

import pytest

from conftest import rule_doc, rule_lines
from guestwall.errors import FilterError
from guestwall.model.filter import DataType, Filter
from guestwall.nwfilter import format_filter, parse_filter
from guestwall.nwfilter.schema import PROTOCOLS, AttrSpec

D = DataType

# (input, printed) per datatype: a valid value written in a non-canonical way where libvirt normalises.
SAMPLES: dict[DataType, tuple[str, str]] = {
    D.UINT8: ("0x1F", "0x1f"),
    D.UINT16: ("022", "22"),
    D.UINT32: ("4294967295", "4294967295"),
    D.MACADDR: ("52:54:0:AB:cd:EF", "52:54:00:ab:cd:ef"),
    D.MACMASK: ("ff:ff:ff:0:0:0", "ff:ff:ff:00:00:00"),
    D.IPADDR: ("10.1.2", "10.1.0.2"),
    D.IPMASK: ("255.255.255.0", "24"),
    D.IPV6ADDR: ("2001:0db8:0:0:0:0:0:1", "2001:db8::1"),
    D.IPV6MASK: ("ffff:ffff:ffff:ffff::", "64"),
    D.STRINGCOPY: ("a 'quoted' & <comment>", "a &apos;quoted&apos; &amp; &lt;comment&gt;"),
    D.BOOLEAN: ("yes", "true"),
    D.IPSETNAME: ("my-set", "my-set"),
    D.IPSETFLAGS: ("SRC,dst", "src,dst"),
}
SPECIAL: dict[str, tuple[str, str]] = {
    "protocolid": ("0x0800", "ipv4"),
    "encap-protocol": ("0x86DD", "ipv6"),
    "vlanid": ("4095", "4095"),
    "opcode": ("request_reverse", "Request_Reverse"),
    "protocol": ("6", "tcp"),  # ip/ipv6: ports need tcp/udp/dccp/sctp
    "dscp": ("0x3f", "0x3f"),
    "state": ("established,new", "NEW,ESTABLISHED"),
    "flags": ("syn,ack/SYN", "SYN,ACK/SYN"),
    "connlimit-above": ("10", "10"),
}


def sample(protocol: str, attr: AttrSpec) -> tuple[str, str]:
    if attr.name in SPECIAL and not (protocol == "stp" and attr.name == "flags"):
        return SPECIAL[attr.name]
    return SAMPLES[attr.datatypes[0]]


def all_attributes(protocol: str) -> tuple[str, str]:
    spec = PROTOCOLS[protocol]
    given = " ".join(f'{a.name}="{sample(protocol, a)[0]}"' for a in reversed(spec.attrs))
    printed = " ".join(f"{a.name}='{sample(protocol, a)[1]}'" for a in spec.attrs)
    return given.replace("&", "&amp;").replace("<", "&lt;"), printed


@pytest.mark.parametrize("protocol", list(PROTOCOLS))
def test_every_attribute_round_trips(protocol: str) -> None:
    given, printed = all_attributes(protocol)
    body = f"<{protocol} {given}/>"
    assert rule_lines(body) == f"    <{protocol} {printed}/>\n"
    first = parse_filter(rule_doc(body))
    again = parse_filter(format_filter(first))
    assert format_filter(again) == format_filter(first)
    # The values are the same; only a number printed as its name comes back with datatype STRING.
    assert values_of(again) == values_of(first)


def values_of(f: Filter) -> list[tuple[str, object, bool]]:
    rule = f.rules[0]
    assert rule.match is not None
    return [(name, v.value, v.negated) for name, v in rule.match.attrs]


@pytest.mark.parametrize("protocol", list(PROTOCOLS))
def test_every_attribute_negated(protocol: str) -> None:
    given, printed = all_attributes(protocol)
    assert rule_lines(f"<{protocol} match='no' {given}/>") == f"    <{protocol} match='no' {printed}/>\n"


@pytest.mark.parametrize("protocol", list(PROTOCOLS))
def test_bare_element(protocol: str) -> None:
    assert rule_lines(f"<{protocol}/>") == f"    <{protocol}/>\n"
    assert rule_lines(f"<{protocol} match='no' unknown='1'/>") == f"    <{protocol}/>\n"


def test_hand_written_tcp() -> None:
    body = (
        "<tcp srcmacaddr='52:54:00:AB:CD:EF' srcipaddr='10.1.2.3' srcipmask='255.255.255.0'"
        " dstipaddr='10.0.0.1'"
        " dstipmask='32' srcipfrom='10.0.0.1' srcipto='10.0.0.9' dstipfrom='10.1.0.1' dstipto='10.1.0.9'"
        " dscp='63' connlimit-above='0x0' state='NEW' ipset='s' ipsetflags='dst' srcportstart='1'"
        " srcportend='2'"
        " dstportstart='0x16' dstportend='65535' option='2' flags='SYN/ALL' comment='c'/>"
    )
    with pytest.raises(FilterError, match="connlimit-above has illegal value 0x0"):
        rule_lines(body)
    assert rule_lines(body.replace("0x0", "5")) == (
        "    <tcp srcmacaddr='52:54:00:ab:cd:ef' srcipaddr='10.1.2.3' srcipmask='24' dstipaddr='10.0.0.1'"
        " dstipmask='32' srcipfrom='10.0.0.1' srcipto='10.0.0.9' dstipfrom='10.1.0.1' dstipto='10.1.0.9'"
        " dscp='63' connlimit-above='5' state='NEW' ipset='s' ipsetflags='dst' srcportstart='1'"
        " srcportend='2'"
        " dstportstart='0x16' dstportend='65535' option='2' flags='SYN/ALL' comment='c'/>\n"
    )


def test_hand_written_stp_arp_vlan() -> None:
    assert rule_lines(
        "<stp forward-delay-hi='9' root-address='1:2:3:4:5:6' type='0x10' root-cost='0x100000' port='+7'/>"
    ) == (
        "    <stp type='0x10' root-address='01:02:03:04:05:06' root-cost='0x100000' port='7'"
        " forward-delay-hi='9'/>\n"
    )
    assert rule_lines(
        "<arp gratuitous='1' arpdstipmask='16' arpsrcipaddr='1.2.3.4' opcode='2' hwtype='1'"
        " protocoltype='0x800'/>"
    ) == (
        "    <arp hwtype='1' protocoltype='0x800' opcode='Reply' arpsrcipaddr='1.2.3.4' arpdstipmask='16'"
        " gratuitous='true'/>\n"
    )
    assert rule_lines("<vlan encap-protocol='2054' vlanid='0xa' dstmacaddr='ff:ff:ff:ff:ff:ff'/>") == (
        "    <vlan dstmacaddr='ff:ff:ff:ff:ff:ff' vlanid='0xa' encap-protocol='arp'/>\n"
    )


def test_unknown_attributes_are_dropped() -> None:
    # Measured on libvirt 9.0: attributes that the element's table lacks disappear without an error.
    assert rule_lines("<stp dstmacaddr='1:2:3:4:5:6' msg-age='1' port_hi='2'/>") == "    <stp/>\n"
    assert rule_lines("<ipv6 dscp='1'/>") == "    <ipv6/>\n"
    assert rule_lines("<tcp srcmacmask='ff:ff:ff:ff:ff:ff' dstmacaddr='1:2:3:4:5:6'/>") == "    <tcp/>\n"
    assert rule_lines("<tcp-ipv6 flags='SYN/ALL'/>") == "    <tcp-ipv6/>\n"
    assert rule_lines("<ip ipset='x'/>") == "    <ip/>\n"


BAD: dict[DataType, str] = {
    D.UINT8: "256",
    D.UINT16: "65536",
    D.UINT32: "4294967296",
    D.MACADDR: "52:54:00:ab:cd",
    D.MACMASK: "ff:00:ff:00:00:00",
    D.IPADDR: "256.1.1.1",
    D.IPMASK: "33",
    D.IPV6ADDR: "1::2::3",
    D.IPV6MASK: "129",
    D.IPSETNAME: "a/b",
    D.IPSETFLAGS: "src,",
    D.STRING: "no-such-name",
}
BAD_SPECIAL = {
    "vlanid": "4096",
    "dscp": "64",
    "protocolid": "1535",
    "encap-protocol": "0x3b",
    "connlimit-above": "0x10",
}
NEVER_ILLEGAL = {D.STRINGCOPY, D.BOOLEAN}  # a comment is truncated, a boolean is true or false


def bad_values() -> list[tuple[str, str, str]]:
    cases = []
    for protocol, spec in PROTOCOLS.items():
        for attr in spec.attrs:
            if set(attr.datatypes) <= NEVER_ILLEGAL:
                continue
            kind = D.STRING if D.STRING in attr.datatypes else attr.datatypes[0]
            for value in (BAD_SPECIAL.get(attr.name, BAD[kind]), "$A[@1001]", "$A-b"):
                cases.append((protocol, attr.name, value))
    return cases


@pytest.mark.parametrize(("protocol", "attr", "value"), bad_values())
def test_illegal_values_name_the_attribute(protocol: str, attr: str, value: str) -> None:
    with pytest.raises(FilterError) as info:
        parse_filter(rule_doc(f"<{protocol} {attr}='{value}'/>"))
    error = info.value
    assert error.text == f"{attr} has illegal value {value}"
    assert str(error) == f"{attr} has illegal value {value} (element {protocol}, rule 1)"
    assert error.where.attribute == attr and error.where.element == protocol and error.where.rule == 1
    assert error.code == "internal error"


def test_booleans_and_comments_are_never_illegal() -> None:
    for protocol, spec in PROTOCOLS.items():
        for attr in spec.attrs:
            if set(attr.datatypes) <= NEVER_ILLEGAL:
                parse_filter(rule_doc(f"<{protocol} {attr.name}='{'x' * 400}'/>"))
