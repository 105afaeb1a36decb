"""The 24 builtin filters: present, parseable, without UUID, with the content libvirt 9.0 ships."""

from __future__ import annotations

import pytest

from guestwall.model.filter import Action, Direction, Filter, FilterRef, Rule
from guestwall.nwfilter import builtin_filters, format_filter, parse_filter
from guestwall.nwfilter.builtins import builtin_names, builtin_xml

NAMES = [
    "allow-arp",
    "allow-dhcp",
    "allow-dhcp-server",
    "allow-dhcpv6",
    "allow-dhcpv6-server",
    "allow-incoming-ipv4",
    "allow-incoming-ipv6",
    "allow-ipv4",
    "allow-ipv6",
    "clean-traffic",
    "clean-traffic-gateway",
    "no-arp-ip-spoofing",
    "no-arp-mac-spoofing",
    "no-arp-spoofing",
    "no-ip-multicast",
    "no-ip-spoofing",
    "no-ipv6-multicast",
    "no-ipv6-spoofing",
    "no-mac-broadcast",
    "no-mac-spoofing",
    "no-other-l2-traffic",
    "no-other-rarp-traffic",
    "qemu-announce-self",
    "qemu-announce-self-rarp",
]

CHAINS = {
    "allow-arp": ("arp", -500),
    "allow-dhcp": ("ipv4", -700),
    "allow-dhcpv6": ("ipv6", -600),
    "allow-incoming-ipv4": ("ipv4", -700),
    "allow-ipv6": ("ipv6", -600),
    "clean-traffic": ("root", 0),
    "clean-traffic-gateway": ("root", 0),
    "no-arp-ip-spoofing": ("arp-ip", -510),
    "no-arp-mac-spoofing": ("arp-mac", -520),
    "no-ip-spoofing": ("ipv4-ip", -710),
    "no-ipv6-spoofing": ("ipv6-ip", -610),
    "no-mac-spoofing": ("mac", -800),
    "no-other-l2-traffic": ("root", 0),
    "no-other-rarp-traffic": ("rarp", -400),
    "qemu-announce-self-rarp": ("rarp", -400),
    "no-mac-broadcast": ("ipv4", -700),
}


@pytest.fixture(scope="module")
def builtins() -> dict[str, Filter]:
    return {f.name: f for f in builtin_filters()}


def test_all_24_by_file_name(builtins: dict[str, Filter]) -> None:
    assert builtin_names() == NAMES
    assert sorted(builtins) == NAMES
    assert all(f.uuid is None for f in builtins.values())
    for name in NAMES:
        assert parse_filter(builtin_xml(name)).name == name


@pytest.mark.parametrize("name", NAMES)
def test_round_trip(builtins: dict[str, Filter], name: str) -> None:
    text = format_filter(builtins[name])
    assert format_filter(parse_filter(text)) == text
    assert "<uuid>" not in text


@pytest.mark.parametrize(("name", "chain"), CHAINS.items())
def test_chains(builtins: dict[str, Filter], name: str, chain: tuple[str, int]) -> None:
    assert (builtins[name].chain, builtins[name].priority) == chain


def refs(f: Filter) -> list[str]:
    return [e.filter for e in f.entries if isinstance(e, FilterRef)]


def test_clean_traffic(builtins: dict[str, Filter]) -> None:
    f = builtins["clean-traffic"]
    assert format_filter(f) == (
        "<filter name='clean-traffic' chain='root'>\n"
        "  <filterref filter='no-mac-spoofing'/>\n"
        "  <filterref filter='no-ip-spoofing'/>\n"
        "  <rule action='accept' direction='out' priority='-650'>\n"
        "    <mac protocolid='ipv4'/>\n"
        "  </rule>\n"
        "  <filterref filter='allow-incoming-ipv4'/>\n"
        "  <filterref filter='no-arp-spoofing'/>\n"
        "  <rule action='accept' direction='inout' priority='-500'>\n"
        "    <mac protocolid='arp'/>\n"
        "  </rule>\n"
        "  <filterref filter='no-other-l2-traffic'/>\n"
        "  <filterref filter='qemu-announce-self'/>\n"
        "</filter>\n"
    )


def test_clean_traffic_gateway(builtins: dict[str, Filter]) -> None:
    f = builtins["clean-traffic-gateway"]
    # libvirt 9.0 ships qemu-announce-self here (the reference's table says qemu-announce-self-rarp).
    assert refs(f) == [
        "no-mac-spoofing",
        "no-ip-spoofing",
        "no-arp-spoofing",
        "no-other-l2-traffic",
        "qemu-announce-self",
    ]
    rules = f.rules
    assert [(r.action, r.direction, r.priority) for r in rules] == [
        (Action.ACCEPT, Direction.INOUT, -500),
        (Action.ACCEPT, Direction.IN, 500),
        (Action.ACCEPT, Direction.OUT, 500),
    ]
    assert str(rules[1].match.get("srcmacaddr").value) == "$GATEWAY_MAC"  # type: ignore[union-attr]
    assert str(rules[2].match.get("dstmacaddr").value) == "$GATEWAY_MAC"  # type: ignore[union-attr]


def test_spoofing_filters(builtins: dict[str, Filter]) -> None:
    assert format_filter(builtins["no-ip-spoofing"]) == (
        "<filter name='no-ip-spoofing' chain='ipv4-ip' priority='-710'>\n"
        "  <rule action='return' direction='out' priority='100'>\n"
        "    <ip srcipaddr='0.0.0.0' protocol='udp'/>\n"
        "  </rule>\n"
        "  <rule action='return' direction='out' priority='500'>\n"
        "    <ip srcipaddr='$IP'/>\n"
        "  </rule>\n"
        "  <rule action='drop' direction='out' priority='1000'/>\n"
        "</filter>\n"
    )
    assert format_filter(builtins["no-mac-spoofing"]) == (
        "<filter name='no-mac-spoofing' chain='mac' priority='-800'>\n"
        "  <rule action='return' direction='out' priority='500'>\n"
        "    <mac srcmacaddr='$MAC'/>\n"
        "  </rule>\n"
        "  <rule action='drop' direction='out' priority='500'>\n"
        "    <mac/>\n"
        "  </rule>\n"
        "</filter>\n"
    )
    arp_ip = builtins["no-arp-ip-spoofing"].rules
    assert [(r.action, r.priority) for r in arp_ip] == [(Action.RETURN, 400), (Action.DROP, 1000)]
    arp_mac = builtins["no-arp-mac-spoofing"].rules
    assert [(r.action, r.priority) for r in arp_mac] == [(Action.RETURN, 350), (Action.DROP, 1000)]
    assert refs(builtins["no-arp-spoofing"]) == ["no-arp-mac-spoofing", "no-arp-ip-spoofing"]
    v6 = format_filter(builtins["no-ipv6-spoofing"])
    assert "<ipv6 srcipaddr='fe80::' srcipmask='10' protocol='udp'/>" in v6
    assert "<ipv6 srcipaddr='$IPV6'/>" in v6


def test_dhcp_filters(builtins: dict[str, Filter]) -> None:
    assert (
        "<ip srcipaddr='0.0.0.0' dstipaddr='255.255.255.255' protocol='udp' srcportstart='68'"
        " dstportstart='67'/>" in (format_filter(builtins["allow-dhcp"]))
    )
    assert "<ip srcipaddr='$DHCPSERVER' protocol='udp' srcportstart='67' dstportstart='68'/>" in (
        format_filter(builtins["allow-dhcp-server"])
    )
    assert (
        "<ipv6 srcipaddr='fe80::' srcipmask='10' dstipaddr='ff02::1:2' protocol='udp' srcportstart='546'"
        " dstportstart='547'/>"
    ) in format_filter(builtins["allow-dhcpv6"])
    assert "<ipv6 srcipaddr='$DHCPSERVER' protocol='udp' srcportstart='547' dstportstart='546'/>" in (
        format_filter(builtins["allow-dhcpv6-server"])
    )


def test_small_filters(builtins: dict[str, Filter]) -> None:
    def only_rule(name: str) -> Rule:
        (rule,) = builtins[name].entries
        assert isinstance(rule, Rule)
        return rule

    assert only_rule("allow-arp") == Rule(Action.ACCEPT, Direction.INOUT)
    assert only_rule("allow-ipv4") == Rule(Action.ACCEPT, Direction.INOUT)
    assert only_rule("allow-incoming-ipv6") == Rule(Action.ACCEPT, Direction.IN)
    assert only_rule("no-other-l2-traffic") == Rule(Action.DROP, Direction.INOUT, 1000)
    assert only_rule("no-other-rarp-traffic") == Rule(Action.DROP, Direction.INOUT, 1000)
    assert "<ip dstipaddr='224.0.0.0' dstipmask='4'/>" in format_filter(builtins["no-ip-multicast"])
    assert "<ipv6 dstipaddr='ff00::' dstipmask='8'/>" in format_filter(builtins["no-ipv6-multicast"])
    assert "<mac dstmacaddr='ff:ff:ff:ff:ff:ff'/>" in format_filter(builtins["no-mac-broadcast"])


def test_qemu_announce_self(builtins: dict[str, Filter]) -> None:
    assert format_filter(builtins["qemu-announce-self"]) == (
        "<filter name='qemu-announce-self' chain='root'>\n"
        "  <rule action='accept' direction='out' priority='500'>\n"
        "    <mac protocolid='0x835'/>\n"
        "  </rule>\n"
        "  <filterref filter='qemu-announce-self-rarp'/>\n"
        "  <filterref filter='no-other-rarp-traffic'/>\n"
        "</filter>\n"
    )
    assert format_filter(builtins["qemu-announce-self-rarp"]) == (
        "<filter name='qemu-announce-self-rarp' chain='rarp' priority='-400'>\n"
        "  <rule action='accept' direction='out' priority='500'>\n"
        "    <rarp srcmacaddr='$MAC' dstmacaddr='ff:ff:ff:ff:ff:ff' opcode='Request_Reverse'"
        " arpsrcmacaddr='$MAC'"
        " arpdstmacaddr='$MAC' arpsrcipaddr='0.0.0.0' arpdstipaddr='0.0.0.0'/>\n"
        "  </rule>\n"
        "  <rule action='accept' direction='in' priority='500'>\n"
        "    <rarp dstmacaddr='ff:ff:ff:ff:ff:ff' opcode='Request_Reverse' arpsrcmacaddr='$MAC'"
        " arpdstmacaddr='$MAC'"
        " arpsrcipaddr='0.0.0.0' arpdstipaddr='0.0.0.0'/>\n"
        "  </rule>\n"
        "</filter>\n"
    )
