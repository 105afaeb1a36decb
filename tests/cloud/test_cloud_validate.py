"""Input validation: each mistake is one clear line saying what is wrong and what is expected."""

from __future__ import annotations

from ipaddress import ip_network

import pytest

from guestwall.cloud import validate as v
from guestwall.model.cloud import Ethertype

V4, V6 = Ethertype.IPV4, Ethertype.IPV6


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10.0.0.1/24", "invalid CIDR '10.0.0.1/24': host bits are set (did you mean 10.0.0.0/24?)"),
        ("10.0.0.0/33", "invalid CIDR '10.0.0.0/33': expected an IPv4 or IPv6 network"),
        ("banana", "invalid CIDR 'banana': expected an IPv4 or IPv6 network"),
        ("2001:db8::1/64", "host bits are set (did you mean 2001:db8::/64?)"),
    ],
)
def test_bad_cidrs(text: str, message: str) -> None:
    with pytest.raises(
        v.CloudInputError, match=message.replace("?", r"\?").replace("(", r"\(").replace(")", r"\)")
    ):
        v.network(text)


def test_good_cidrs() -> None:
    assert v.network("10.0.0.0/8") == ip_network("10.0.0.0/8")
    assert v.network("192.0.2.7") == ip_network("192.0.2.7/32")
    assert v.network(" 2001:db8::/32 ") == ip_network("2001:db8::/32")


@pytest.mark.parametrize(
    ("text", "expected"), [("22", (22, 22)), ("8000:8080", (8000, 8080)), ("1-65535", (1, 65535))]
)
def test_port_ranges(text: str, expected: tuple[int, int]) -> None:
    assert v.port_range(text) == expected


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("0", "ports are 1 to 65535"),
        ("65536", "ports are 1 to 65535"),
        ("90:80", "first port is above the last"),
        ("http", "expected PORT or MIN:MAX"),
        ("1:2:3", "expected PORT or MIN:MAX"),
        ("-5", "expected PORT"),
    ],
)
def test_bad_port_ranges(text: str, why: str) -> None:
    with pytest.raises(v.CloudInputError, match=f"invalid port range '{text}': .*{why}"):
        v.port_range(text)


def test_icmp_values() -> None:
    assert v.icmp_value("8", "type") == 8
    assert v.icmp_value("any", "type") is None
    assert v.icmp_value(-1, "code") is None
    for bad in ("256", "echo", "-2", "3.5"):
        with pytest.raises(v.CloudInputError, match=f"invalid ICMP code '{bad}': expected 0 to 255 or any"):
            v.icmp_value(bad, "code")


@pytest.mark.parametrize(
    ("text", "ether", "expected"),
    [
        ("tcp", V4, "tcp"),
        ("TCP", V4, "tcp"),
        ("6", V4, "tcp"),
        ("icmp", V6, "icmpv6"),
        ("ipv6-icmp", V6, "icmpv6"),
        ("58", V6, "icmpv6"),
        ("any", V4, None),
        (None, V6, None),
        ("132", V4, "sctp"),
    ],
)
def test_protocols(text: str | None, ether: Ethertype, expected: str | None) -> None:
    assert v.protocol(text, ether) == expected


@pytest.mark.parametrize(
    ("text", "ether", "message"),
    [
        ("47", V4, "unsupported protocol 47: nwfilter's layer-3 rules can express"),
        ("gre", V4, "invalid protocol 'gre': expected any, tcp, udp"),
        ("300", V4, "protocol numbers are 0 to 255"),
        ("icmpv6", V4, "invalid protocol 'icmpv6' for IPv4"),
        ("igmp", V6, "invalid protocol 'igmp' for IPv6"),
    ],
)
def test_bad_protocols(text: str, ether: Ethertype, message: str) -> None:
    with pytest.raises(v.CloudInputError, match=message):
        v.protocol(text, ether)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("udp", None, 8, None, None, None, V4), "ICMP type and code need protocol icmp"),
        (("icmp", None, None, 3, None, None, V4), "ICMP code 3 is given but no ICMP type"),
        (("icmp", (1, 2), None, None, None, None, V4), "a port range needs protocol tcp, udp or sctp"),
        ((None, (22, 22), None, None, None, None, V4), r"the rule's protocol is any"),
        (
            ("tcp", None, None, None, ip_network("10.0.0.0/8"), "g", V4),
            "a remote IP prefix or a remote group",
        ),
        (
            ("tcp", None, None, None, ip_network("2001:db8::/32"), None, V4),
            "is IPv6 but the rule's ethertype is IPv4",
        ),
    ],
)
def test_rule_combinations(args: tuple, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(v.CloudInputError, match=message):
        v.checked_rule_fields(*args)


def test_macs_and_devices() -> None:
    assert str(v.mac("52-54-00-AB-CD-EF")) == "52:54:00:ab:cd:ef"
    for bad, why in (
        ("01:00:5e:00:00:01", "multicast"),
        ("52:54:00:00:00", "six hex bytes"),
        ("00:00:00:00:00:00", "all zeros"),
    ):
        with pytest.raises(v.CloudInputError, match=why):
            v.mac(bad)
    assert v.device("tap0123456789ab") == "tap0123456789ab"
    for bad in ("", "a" * 16, "has space", "a/b"):
        with pytest.raises(v.CloudInputError, match="invalid device name"):
            v.device(bad)


def test_fixed_ips() -> None:
    assert str(v.fixed_ip("10.0.0.5")) == "10.0.0.5"
    for bad, why in (
        ("224.0.0.1", "not a unicast"),
        ("fe80::1", "link-local address comes from the MAC"),
        ("10.0.0.0/24", "expected an IPv4 or IPv6 address"),
    ):
        with pytest.raises(v.CloudInputError, match=why):
            v.fixed_ip(bad)


def test_directions_and_ethertypes() -> None:
    assert v.direction("Ingress").value == "ingress"
    assert v.ethertype("ipv6") is V6
    with pytest.raises(v.CloudInputError, match="expected ingress or egress"):
        v.direction("inbound")
    with pytest.raises(v.CloudInputError, match="expected IPv4 or IPv6"):
        v.ethertype("ip")
