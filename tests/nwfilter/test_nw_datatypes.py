"""Datatype parsing and printing, one value at a time, with the values measured on libvirt 9.0."""

from __future__ import annotations

import itertools
import socket
from ipaddress import IPv4Address, IPv6Address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guestwall.model.filter import DataType, TcpFlags, VarRef
from guestwall.model.mac import MacAddress
from guestwall.nwfilter import addresses
from guestwall.nwfilter.cnumbers import str_to_int, str_to_uint
from guestwall.nwfilter.datatypes import format_datatype, parse_varref
from guestwall.nwfilter.schema import attr_spec
from guestwall.nwfilter.values import parse_attr_value

D = DataType


def shown(protocol: str, attr: str, text: str) -> str:
    """What libvirt prints back for ``attr='text'``."""
    spec = attr_spec(protocol, attr)
    assert spec is not None
    value = parse_attr_value(spec, text)
    return format_datatype(value.value, value.datatype, spec)


def rejected(protocol: str, attr: str, text: str) -> bool:
    try:
        shown(protocol, attr, text)
    except Exception as e:
        assert f"{attr} has illegal value {text}" in str(e)
        return True
    return False


@pytest.mark.parametrize(
    ("text", "out"),
    [
        ("22", "22"),
        ("010", "10"),
        ("00022", "22"),
        ("0x1f", "0x1f"),
        ("0X1F", "0x1f"),
        ("1f", "0x1f"),
        ("ff", "0xff"),
        ("abc", "0xabc"),
        ("0x0a", "0xa"),
        (" 22", "22"),
        ("+22", "22"),
        ("-0", "0"),
        ("65535", "65535"),
        ("0xffff", "0xffff"),
        ("1e3", "0x1e3"),  # not a decimal number, but hex
    ],
)
def test_uint16_leniency(text: str, out: str) -> None:
    assert shown("tcp", "dstportstart", text) == out


@pytest.mark.parametrize("text", ["22 ", "", "0x", "-1", "65536", "0x10000", "1g3", "0x1g", "٣"])
def test_uint16_illegal(text: str) -> None:
    assert rejected("tcp", "dstportstart", text)


def test_uint8_and_uint32_ranges() -> None:
    assert shown("icmp", "type", "255") == "255"
    assert shown("icmp", "type", "0xff") == "0xff"
    assert rejected("icmp", "type", "256")
    assert rejected("icmp", "type", "0x100")
    assert shown("stp", "root-cost", "4294967295") == "4294967295"
    assert shown("stp", "root-cost", "0xffffffff") == "0xffffffff"
    assert rejected("stp", "root-cost", "4294967296")
    # virStrToLong_ui wraps a negative number: -1 is UINT_MAX (measured on libvirt 9.0).
    assert shown("stp", "root-cost", "-1") == "4294967295"
    assert shown("stp", "root-cost-hi", "-0x1") == "0xffffffff"


def test_connlimit_is_decimal_only() -> None:
    assert shown("tcp", "connlimit-above", "10") == "10"
    assert rejected("tcp", "connlimit-above", "0x10")
    assert rejected("tcp", "connlimit-above", "ff")


def test_c_number_helpers() -> None:
    assert str_to_uint("-4294967295") == (1, 11)
    assert str_to_uint("-4294967296") is None
    assert str_to_uint("18446744073709551616") is None
    assert str_to_uint("0x", 16) is None
    assert str_to_uint("12ab", 10, whole=False) == (12, 2)
    assert str_to_int(" -1000") == -1000
    assert str_to_int("2147483648") is None
    assert str_to_int("7 ") is None
    assert str_to_int("0x10") is None


@pytest.mark.parametrize(
    ("text", "out"),
    [
        ("1:2:3:4:5:6", "01:02:03:04:05:06"),
        ("AA:BB:CC:DD:EE:FF", "aa:bb:cc:dd:ee:ff"),
        ("a:b:c:d:e:f junk", "0a:0b:0c:0d:0e:0f"),  # libvirt stops at any char <= ' ' after the 6th group
        ("a:b:c:d:e:f\tx", "0a:0b:0c:0d:0e:0f"),
    ],
)
def test_mac(text: str, out: str) -> None:
    assert shown("mac", "srcmacaddr", text) == out


@pytest.mark.parametrize(
    "text",
    [
        "1:2:3:4:5",
        "001:2:3:4:5:6",
        "1-2-3-4-5-6",
        "1:2:3:4:5:6:7",
        " 1:2:3:4:5:6",
        "1:2:3:4:5:6,",
        "",
        "0x1:2:3:4:5:6",
    ],
)
def test_mac_illegal(text: str) -> None:
    assert rejected("mac", "srcmacaddr", text)


@pytest.mark.parametrize(
    ("text", "out"),
    [
        ("FF:FF:FF:FF:FF:0", "ff:ff:ff:ff:ff:00"),
        ("00:00:00:00:00:00", "00:00:00:00:00:00"),
        ("80:0:0:0:0:0", "80:00:00:00:00:00"),
    ],
)
def test_mac_mask(text: str, out: str) -> None:
    assert shown("mac", "srcmacmask", text) == out


@pytest.mark.parametrize("text", ["ff:00:ff:00:00:00", "fe:ff:ff:ff:ff:ff", "48"])
def test_mac_mask_illegal(text: str) -> None:
    assert rejected("mac", "srcmacmask", text)


@pytest.mark.parametrize(
    ("text", "out"),
    [
        ("10.1.2", "10.1.0.2"),
        ("10", "0.0.0.10"),
        ("167772161", "10.0.0.1"),
        ("0x0a.1.2.3", "10.1.2.3"),
        ("010.001.002.003", "8.1.2.3"),
        ("0xffffffff", "255.255.255.255"),
        ("037777777777", "255.255.255.255"),
        ("1.0xffffff", "1.255.255.255"),
    ],
)
def test_ipv4_inet_aton_forms(text: str, out: str) -> None:
    assert shown("ip", "srcipaddr", text) == out


@pytest.mark.parametrize(
    "text",
    [
        "256.1.1.1",
        "1.2.3.4.5",
        "1.2.3.4x",
        "::1",
        "08.1.1.1",
        "",
        "1..2.3",
        "+1.2.3.4",
        " 1.2.3.4",
        "1.2.3.4 ",
        "4294967296",
    ],
)
def test_ipv4_illegal(text: str) -> None:
    assert rejected("ip", "srcipaddr", text)


@pytest.mark.parametrize(
    ("text", "out"),
    [
        ("255.255.255.0", "24"),
        ("0.0.0.0", "0"),
        ("128.0.0.0", "1"),
        ("255.255.0", "16"),
        ("024", "24"),
        (" 24", "24"),
        ("+24", "24"),
        ("0xff000000", "8"),
    ],
)
def test_ipv4_mask(text: str, out: str) -> None:
    assert shown("ip", "srcipmask", text) == out


@pytest.mark.parametrize(
    "text", ["33", "255.0.255.0", "255.255.255.1", "0x18", "-1", "24 ", "4278190080", "0255.0.0.0"]
)
def test_ipv4_mask_illegal(text: str) -> None:
    assert rejected("ip", "srcipmask", text)


@pytest.mark.parametrize(
    ("text", "out"),
    [
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("2001:db8:0:0:1:0:0:0", "2001:db8:0:0:1::"),
        ("::ffff:a01:203", "::ffff:10.1.2.3"),
        ("64:ff9b::10.1.2.3", "64:ff9b::a01:203"),
        ("::ffff:0:1.2.3.4", "::ffff:0:102:304"),
        ("::0.0.0.1", "::1"),
        ("::0.1.0.0", "::0.1.0.0"),
        ("1:0:1:0:1:0:1:0", "1:0:1:0:1:0:1:0"),
        ("FE80::", "fe80::"),
        ("::", "::"),
    ],
)
def test_ipv6_glibc_format(text: str, out: str) -> None:
    assert shown("ipv6", "srcipaddr", text) == out


@pytest.mark.parametrize(
    "text",
    [
        "fe80::1%eth0",
        "fe80::1%1",
        "2001:db8::/64",
        "1.2.3.4",
        " ::1",
        "1::2::3",
        "12345::",
        ":1::",
        "::ffff:01.2.3.4",
        "",
    ],
)
def test_ipv6_illegal(text: str) -> None:
    assert rejected("ipv6", "srcipaddr", text)


@pytest.mark.parametrize(
    ("text", "out"), [("ffff:ffff::", "32"), ("::", "0"), ("128", "128"), ("010", "10"), ("fffe::", "15")]
)
def test_ipv6_mask(text: str, out: str) -> None:
    assert shown("ipv6", "srcipmask", text) == out


@pytest.mark.parametrize("text", ["129", "ffff:0:ffff::", "255.0.0.0", "0x10"])
def test_ipv6_mask_illegal(text: str) -> None:
    assert rejected("ipv6", "srcipmask", text)


@given(st.binary(min_size=16, max_size=16))
def test_ipv6_format_is_glibc_inet_ntop(packed: bytes) -> None:
    # Python's socket.inet_ntop is the C library's: the exact oracle for libvirt's printing.
    assert addresses.format_ipv6(IPv6Address(packed)) == socket.inet_ntop(socket.AF_INET6, packed)


_V6_PIECES = st.sampled_from(
    ["", ":", "::", "0", "1", "ffff", "FFFF", "12345", "1.2.3.4", "01.2.3.4", "abcd", "%1", "g"]
)


@given(st.lists(_V6_PIECES, max_size=12).map("".join))
def test_ipv6_parse_is_glibc_inet_pton(text: str) -> None:
    try:
        expected: bytes | None = socket.inet_pton(socket.AF_INET6, text)
    except OSError:
        expected = None
    parsed = addresses.parse_ipv6(text)
    assert (parsed.packed if parsed else None) == expected


@given(
    st.lists(
        st.sampled_from(["0", "1", "9", "08", "0x", "0xff", "255", "256", ".", "..", "4294967295", "x"]),
        max_size=8,
    )
)
def test_ipv4_parse_is_glibc_inet_aton(pieces: list[str]) -> None:
    # Without blanks, C inet_aton and glibc's exact variant (used by getaddrinfo) agree.
    text = "".join(pieces)
    try:
        expected: bytes | None = socket.inet_aton(text)
    except OSError:
        expected = None
    parsed = addresses.parse_ipv4(text)
    assert (parsed.packed if parsed else None) == expected


def test_name_sets() -> None:
    assert shown("mac", "protocolid", "0x806") == "arp"
    assert shown("mac", "protocolid", "2054") == "arp"
    assert shown("mac", "protocolid", "IPv6") == "ipv6"
    assert shown("mac", "protocolid", "1536") == "1536"
    assert shown("mac", "protocolid", "0x600") == "0x600"
    assert shown("mac", "protocolid", "ffff") == "0xffff"
    assert rejected("mac", "protocolid", "1000")  # decimal below 0x600: not retried as hex
    assert rejected("mac", "protocolid", "0x5ff")
    assert rejected("mac", "protocolid", "foo")
    assert shown("vlan", "encap-protocol", "60") == "60"
    assert shown("vlan", "encap-protocol", "0x86dd") == "ipv6"
    assert rejected("vlan", "encap-protocol", "0x3b")
    assert shown("vlan", "vlanid", "0xfff") == "0xfff"
    assert rejected("vlan", "vlanid", "4096")
    assert shown("arp", "opcode", "request") == "Request"
    assert shown("arp", "opcode", "0x2") == "Reply"
    assert shown("arp", "opcode", "0xa") == "10"  # unknown opcodes always print in decimal
    assert shown("arp", "opcode", "a") == "10"
    assert shown("arp", "opcode", "DRARP_ERROR") == "DRARP_Error"
    assert rejected("arp", "opcode", "Foo")
    assert shown("ip", "protocol", "6") == "tcp"
    assert shown("ip", "protocol", "0x11") == "udp"
    assert shown("ip", "protocol", "ICMPv6") == "icmpv6"
    assert shown("ip", "protocol", "255") == "255"
    assert shown("ip", "protocol", "ff") == "0xff"
    assert shown("ip", "protocol", "33") == "33"
    assert rejected("ip", "protocol", "dccp")
    assert shown("ip", "dscp", "3f") == "0x3f"
    assert rejected("ip", "dscp", "64")
    assert rejected("tcp", "dscp", "0x40")


@pytest.mark.parametrize(
    ("text", "out"),
    [
        ("NEW ESTABLISHED", "NEW,ESTABLISHED"),
        ("NEWESTABLISHED", "NEW,ESTABLISHED"),
        (",new,", "NEW"),
        ("INVALID,RELATED,ESTABLISHED,NEW", "NEW,ESTABLISHED,RELATED,INVALID"),
        ("NONE,NEW", "NONE"),
        ("NEW,NEW", "NEW"),
        (" ", ""),
        ("", ""),
    ],
)
def test_conntrack_state(text: str, out: str) -> None:
    assert shown("tcp", "state", text) == out


def test_conntrack_state_values() -> None:
    spec = attr_spec("tcp", "state")
    assert spec is not None
    assert parse_attr_value(spec, "related,new").value == ("NEW", "RELATED")
    assert parse_attr_value(spec, "NONE").value == ("NONE",)
    assert rejected("tcp", "state", "NEW,FOO")


@pytest.mark.parametrize(
    ("text", "out"),
    [
        ("URG,ACK,PSH,RST,SYN/FIN,SYN", "SYN,RST,PSH,ACK,URG/FIN,SYN"),
        ("SYNACK/ALL", "SYN,ACK/ALL"),
        ("SYN, ACK/ALL", "SYN,ACK/ALL"),
        ("/", "NONE/NONE"),
        ("/SYN", "NONE/SYN"),
        ("FIN,SYN,RST,PSH,ACK,URG/NONE,SYN", "ALL/SYN"),
        ("ALL,SYN/syn", "ALL/SYN"),
        (",,SYN,/ SYN ", "SYN/SYN"),
    ],
)
def test_tcp_flags(text: str, out: str) -> None:
    assert shown("tcp", "flags", text) == out


def test_tcp_flags_values_and_errors() -> None:
    spec = attr_spec("tcp", "flags")
    assert spec is not None
    assert parse_attr_value(spec, "SYN,ACK/SYN").value == TcpFlags(mask=18, set=2)
    assert rejected("tcp", "flags", "SYN/ALL/ACK")
    assert rejected("tcp", "flags", "ALL")
    assert rejected("tcp", "flags", "FOO/ALL")


def test_boolean_never_fails() -> None:
    for text, out in [
        ("true", "true"),
        ("1", "true"),
        ("yes", "true"),
        ("TRUE", "false"),
        ("", "false"),
        ("x", "false"),
    ]:
        assert shown("arp", "gratuitous", text) == out


def test_comment_is_cut_to_256_bytes_without_splitting_a_character() -> None:
    assert shown("tcp", "comment", "x" * 300) == "x" * 256
    assert shown("tcp", "comment", "") == ""
    # libvirt cuts the UTF-8 bytes blindly and prints a broken character; guestwall drops the partial one.
    assert shown("tcp", "comment", "a" * 255 + "é") == "a" * 255
    assert shown("tcp", "comment", "a" * 254 + "é") == "a" * 254 + "é"


def test_ipset_name_and_flags() -> None:
    assert shown("all", "ipset", "a b+c-d.e:f_g") == "a b+c-d.e:f_g"
    assert shown("all", "ipset", "") == ""
    assert shown("all", "ipset", "a" * 31) == "a" * 31
    for bad in ["a" * 32, "a/b", "a,b", "x$y"]:
        assert rejected("all", "ipset", bad)
    assert shown("all", "ipsetflags", "SRC,Dst,src") == "src,dst,src"
    assert shown("all", "ipsetflags", "src,dst,src,dst,src,dst") == "src,dst,src,dst,src,dst"
    for bad in ["src,dst,src,dst,src,dst,src", "foo", "src, dst", "", "src,", ",src"]:
        assert rejected("all", "ipsetflags", bad)


@pytest.mark.parametrize(
    ("text", "out"),
    [
        ("$A", "$A"),
        ("$A[@0]", "$A"),
        ("$A[01]", "$A[1]"),
        ("$A[ 1]", "$A[1]"),
        ("$A[1 ]", "$A[1]"),
        ("$A[@ 2]", "$A[@2]"),
        ("$A[ @3 ]", "$A[@3]"),
        ("$A[1]x", "$A[1]"),
        ("$A[+5]", "$A[5]"),
        ("$A[-1]", "$A[4294967295]"),
        ("$A[1001]", "$A[1001]"),
        ("$A[@1000]", "$A[@1000]"),
        ("$", "$"),
        ("$[3]", "$[3]"),
    ],
)
def test_variable_normalisation(text: str, out: str) -> None:
    assert shown("tcp", "srcipaddr", text) == out


@pytest.mark.parametrize(
    "text",
    [
        "$A-b",
        "$a.b",
        "$A[]",
        "$A[@]",
        "$A[@1001]",
        "$A[@-1]",
        "$A[4294967296]",
        "$A[0x1]",
        "$A[1",
        "$A ",
        "$ A",
        "$é",
    ],
)
def test_variable_illegal(text: str) -> None:
    assert rejected("tcp", "srcipaddr", text)


def test_variable_values() -> None:
    assert parse_varref("$IP") == VarRef("IP")
    assert parse_varref("$IP[2]") == VarRef("IP", index=2)
    assert parse_varref("$IP[@2]") == VarRef("IP", iterator=2)
    spec = attr_spec("tcp", "comment")
    assert spec is not None
    value = parse_attr_value(spec, "$C")
    assert value.datatype is D.VARIABLE and value.is_var


def test_typed_python_values() -> None:
    def value(protocol: str, attr: str, text: str) -> object:
        spec = attr_spec(protocol, attr)
        assert spec is not None
        return parse_attr_value(spec, text).value

    assert value("ip", "srcipaddr", "10.1.2") == IPv4Address("10.1.0.2")
    assert value("ipv6", "srcipaddr", "::1") == IPv6Address("::1")
    assert value("ip", "srcipmask", "255.255.0.0") == 16
    assert value("mac", "protocolid", "arp") == 0x806
    assert value("mac", "srcmacaddr", "A:B:C:D:E:F") == MacAddress(0x0A0B0C0D0E0F)
    assert value("arp", "gratuitous", "yes") is True
    assert value("all", "ipsetflags", "DST,src") == ("dst", "src")



def test_ipv4_dotted_decimal_shortcut_is_inet_aton() -> None:
    # parse_ipv4 reads four plain decimal parts without inet_aton's loop: the same answer for every text
    parts = ["0", "00", "01", "1", "9", "10", "99", "100", "199", "255", "256", "999", "1000", "", "0x1", " 1"]
    texts = {".".join(p) for n in (3, 4, 5) for p in itertools.product(parts[: 16 if n < 5 else 6], repeat=n)}
    texts |= {"1.2.3.4\n", "\u0663.2.3.4", "1.2.3.\uff14", "1.2.3.4.", ".1.2.3"}
    differ = [t for t in texts if addresses.parse_ipv4(t) != addresses.inet_aton(t)]
    assert not differ, differ[:5]
