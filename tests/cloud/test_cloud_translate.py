"""Translation of cloud objects into the engine's inputs (pure): group filters, port filters and binding
parameters, provider sets; and what the engine makes of them: ports of one profile share every chain, a
membership change is a set update, thousands of blocks are one lookup."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv6Address, ip_address, ip_network

import pytest

from guestwall.cloud import basefilters as base
from guestwall.cloud import translate as tr
from guestwall.compile.compiler import Compiled, PortInput, compile_ruleset
from guestwall.dataplane.diff import diff
from guestwall.dataplane.state import actual_of
from guestwall.instantiate.build import Planner
from guestwall.model import Filter
from guestwall.model.cloud import (
    Ethertype,
    Port,
    ProviderBlock,
    RuleDirection,
    SecurityGroup,
    SecurityGroupRule,
)
from guestwall.model.mac import MacAddress
from guestwall.nft import render
from guestwall.nwfilter import format_binding, format_filter, parse_binding, parse_filter

G1 = "11111111-2222-4333-8444-555555555555"
G2 = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
IN, OUT = RuleDirection.INGRESS, RuleDirection.EGRESS
V4, V6 = Ethertype.IPV4, Ethertype.IPV6


def rule(direction: RuleDirection = IN, ether: Ethertype = V4, **fields: object) -> SecurityGroupRule:
    return SecurityGroupRule("r", G1, direction, ether, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("r", "element"),
    [
        (
            rule(protocol="tcp", port_min=22, port_max=22, remote_cidr=ip_network("10.0.0.0/8")),
            "<tcp srcipaddr='10.0.0.0' srcipmask='8' dstportstart='22' dstportend='22'/>",
        ),
        (
            rule(protocol="tcp", port_min=80, port_max=81, remote_cidr=ip_network("0.0.0.0/0")),
            "<tcp dstportstart='80' dstportend='81'/>",
        ),
        (
            rule(OUT, protocol="udp", port_min=53, port_max=53, remote_cidr=ip_network("192.0.2.0/24")),
            "<udp dstipaddr='192.0.2.0' dstipmask='24' dstportstart='53' dstportend='53'/>",
        ),
        (rule(protocol="icmp", icmp_type=8), "<icmp type='8'/>"),
        (rule(protocol="icmp", icmp_type=3, icmp_code=4), "<icmp type='3' code='4'/>"),
        (rule(protocol="icmp"), "<icmp/>"),
        (rule(ether=V6, protocol="icmpv6", icmp_type=128), "<icmpv6 type='128'/>"),
        (rule(remote_group_id=G2), f"<all ipset='gw-sg-{G2.replace('-', '')[:16]}' ipsetflags='src'/>"),
        (
            rule(OUT, V6, protocol="tcp", remote_group_id=G2),
            f"<tcp-ipv6 ipset='gw-sg-{G2.replace('-', '')[:16]}' ipsetflags='dst'/>",
        ),
        (
            rule(ether=V6, remote_cidr=ip_network("2001:db8::/32")),
            "<all-ipv6 srcipaddr='2001:db8::' srcipmask='32'/>",
        ),
        (rule(protocol="sctp", port_min=9, port_max=9), "<sctp dstportstart='9' dstportend='9'/>"),
        (rule(protocol="esp"), "<esp/>"),
    ],
)
def test_rule_matches(r: SecurityGroupRule, element: str) -> None:
    """Built as the parser reads the element libvirt's language writes for it (equal by value)."""
    rule_xml = f"<filter name='x'><rule action='accept' direction='in'>{element}</rule></filter>"
    assert tr.rule_match(r) == parse_filter(rule_xml).rules[0].match


def _round_trip(definition: Filter) -> Filter:
    return parse_filter(format_filter(definition))


def test_group_filter_is_valid_nwfilter_with_accept_rules_in_the_right_direction() -> None:
    logged = rule(OUT, protocol="udp", remote_cidr=ip_network("192.0.2.0/24"), log=True)
    group = SecurityGroup(
        G1, "web", "p", rules=(rule(protocol="tcp", port_min=443, port_max=443), rule(OUT), logged)
    )
    parsed = tr.group_filter(group)
    assert _round_trip(parsed) == parsed  # what the store reads back compares equal: nothing rewritten
    assert parsed.name == "gw-sg-1111111122224333"
    assert [(r.action.value, r.direction.value, r.priority) for r in parsed.rules] == [
        ("accept", "in", base.GROUP_RULE_PRIORITY),
        ("accept", "out", base.GROUP_RULE_PRIORITY),
        ("accept", "out", base.GROUP_RULE_PRIORITY),
    ]


def test_every_base_filter_is_a_data_file_named_as_its_key() -> None:
    filters = base.filters()
    assert list(filters) == [*base.NAMES, *base.HOST.values()]
    for name in base.NAMES:
        assert filters[name].name == name
        assert parse_filter(base.xml(name)) == filters[name]


def test_a_host_variant_is_its_filter_without_the_masks_of_a_variable() -> None:
    for masked, host in base.HOST.items():
        variant, original = base.filters()[host], base.filters()[masked]
        assert variant.name == host and _round_trip(variant) == variant
        written = format_filter(variant)
        assert "$IPMASK" not in written and "$IPV6MASK" not in written
        addresses = ("='$IP'", "='$IPV6'")
        assert [written.count(a) for a in addresses] == [format_filter(original).count(a) for a in addresses]
        assert any(a in written for a in addresses)
    # constant masks stay: '::' with mask 128 is a rule of its own
    assert "srcipmask='128'" in format_filter(base.filters()[base.HOST[base.IPV6]])


def port(device: str = "vnet0", mac: str = "52:54:00:00:00:01", **fields: object) -> Port:
    values: dict[str, object] = {"fixed_ips": (ip_address("10.0.0.5"), ip_address("2001:db8::5"))}
    values.update(fields)
    return Port("p-" + device, device, MacAddress.require(mac, "test port"), "proj", **values)  # type: ignore[arg-type]


def test_link_local_from_mac() -> None:
    assert MacAddress(0x525400123456).link_local() == IPv6Address("fe80::5054:ff:fe12:3456")
    assert MacAddress(0x00163E000001).link_local() == IPv6Address("fe80::216:3eff:fe00:1")


def test_port_parameters() -> None:
    p = port(allowed_address_pairs=(ip_network("10.0.1.0/24"), ip_network("2001:db8:1::/64")))
    assert tr.port_parameters(p) == {
        "MAC": ("52:54:00:00:00:01",),
        "IP": ("10.0.0.5", "10.0.1.0"),
        "IPMASK": ("32", "24"),
        "IPV6": ("fe80::5054:ff:fe00:1", "2001:db8::5", "2001:db8:1::"),
        "IPV6MASK": ("128", "128", "64"),
    }
    assert tr.port_parameters(port(port_security=False)) == {"MAC": ("52:54:00:00:00:01",)}
    assert "IP" not in tr.port_parameters(port(fixed_ips=()))


def test_port_filter_variants() -> None:
    plain = tr.profile(port(security_groups=(G2, G1)))
    assert plain == tr.profile(port("vnet1", "52:54:00:00:00:02", security_groups=(G1, G2)))
    assert plain.hosts  # single addresses only: the host variants, hash sets in the kernel
    definition = tr.port_filter(plain)
    assert _round_trip(definition) == definition
    refs = [r.filter for r in definition.refs]
    assert refs == [
        base.L2,
        base.HOST[base.IPV4],
        base.HOST[base.ARP],
        base.HOST[base.IPV6_NA],
        base.HOST[base.IPV6],
        base.NO_DHCP_SERVER,
        base.NO_DHCPV6_SERVER,
        base.STATEFUL,
        base.CLIENT,
        tr.PROVIDER,
        tr.group_filter_name(G1),
        tr.group_filter_name(G2),
        base.DEFAULT_DROP,
    ]
    pairs = tr.profile(port(security_groups=(G2, G1), allowed_address_pairs=(ip_network("10.0.1.0/24"),)))
    assert not pairs.hosts and pairs.filter_name != plain.filter_name
    masked = [r.filter for r in tr.port_filter(pairs).refs]
    assert masked[1:5] == [base.IPV4, base.ARP, base.IPV6_NA, base.IPV6]
    unaddressed = tr.profile(port(fixed_ips=()))
    dhcp = tr.profile(port(dhcp_server=True))
    names = {plain.filter_name, unaddressed.filter_name, dhcp.filter_name, tr.profile(port()).filter_name}
    assert len(names) == 4
    assert base.IPV4_UNADDRESSED in {r.filter for r in tr.port_filter(unaddressed).refs}
    dhcp_refs = {r.filter for r in tr.port_filter(dhcp).refs}
    assert base.DHCP_SERVER in dhcp_refs and base.NO_DHCP_SERVER not in dhcp_refs
    assert tr.port_filter_name(port(port_security=False)) == base.OPEN


def test_binding_round_trips() -> None:
    p = port(name="web-1", device_id="00000000-0000-4000-8000-000000000042")
    binding = tr.binding(p)
    assert parse_binding(format_binding(binding)) == binding
    assert binding.portdev == "vnet0" and str(binding.mac) == "52:54:00:00:00:01"
    assert binding.filterref.param_dict()["MAC"] == ("52:54:00:00:00:01",)
    assert binding.owner.name == "web-1" and str(binding.owner.uuid) == "00000000-0000-4000-8000-000000000042"
    assert binding.filterref.filter == tr.port_filter_name(p)
    assert dict(binding.filterref.params)["IPV6MASK"] == ("128", "128")


def test_provider_sets_one_per_kind() -> None:
    blocks = [
        ProviderBlock("1", ip_network("203.0.113.0/24")),
        ProviderBlock("2", ip_network("2001:db8::/32")),
        ProviderBlock("3", ip_network("198.51.100.7/32"), "tcp", 22, 22),
        ProviderBlock("4", ip_network("198.51.100.8/32"), "tcp", 22, 22),
        ProviderBlock("5", ip_network("198.51.100.9/32"), "udp"),
        ProviderBlock("6", ip_network("198.51.100.9/32"), "icmp"),
    ]
    sets = tr.provider_sets(blocks)
    assert {n: len(s.networks) for n, s in sets.items()} == {
        "gw-provider-any": 2,
        "gw-provider-icmp": 1,
        "gw-provider-tcp-22-22": 2,
        "gw-provider-udp": 1,
    }
    parsed = tr.provider_filter([*blocks, ProviderBlock("7", ip_network("192.0.2.0/24"), log=True)])
    assert _round_trip(parsed) == parsed
    protocols = [r.match.protocol for r in parsed.rules if r.match is not None]
    assert protocols == [
        *("all", "all-ipv6", "all", "all-ipv6", "icmp", "icmpv6", "tcp", "tcp-ipv6", "udp", "udp-ipv6")
    ]
    assert all(r.action.value == "drop" and r.priority == base.PROVIDER_PRIORITY for r in parsed.rules)
    # no blocks: the whole-CIDR rule and set exist already, so the first block is an element update
    assert list(tr.provider_sets([])) == ["gw-provider-any"]


def compiled(groups: list[SecurityGroup], ports: list[Port], blocks: list[ProviderBlock]) -> Compiled:
    derived = tr.derive(groups, ports, blocks)
    planner = Planner(derived.filters)
    inputs = [  # port ids in the order given, as the store allocates them
        PortInput(planner.instantiate(derived.bindings[p.device]), i + 1) for i, p in enumerate(ports)
    ]
    return compile_ruleset(inputs, address_sets=derived.address_sets)


def web_groups() -> list[SecurityGroup]:
    return [
        SecurityGroup(
            G1, "web", "p", rules=(SecurityGroupRule("r1", G1, IN, V4, "tcp", 80, 80, remote_group_id=G2),)
        ),
        SecurityGroup(G2, "frontends", "p"),
    ]


def many_ports(count: int, groups: tuple[str, ...]) -> list[Port]:
    return [
        Port(
            f"p{i}",
            f"vnet{i}",
            MacAddress(0x525400000000 + i),
            "p",
            fixed_ips=(ip_address(f"10.1.{i >> 8}.{i & 0xFF}"),),
            security_groups=groups,
        )
        for i in range(1, count + 1)
    ]


def test_ports_of_one_profile_share_every_chain() -> None:
    few = compiled(web_groups(), many_ports(2, (G1,)), [])
    more = compiled(web_groups(), many_ports(40, (G1,)), [])
    for family in ("bridge", "inet"):
        assert set(few.ruleset.table(family).chains) == set(more.ruleset.table(family).chains)
    assert not more.fallbacks


def test_membership_change_is_element_updates_only() -> None:
    groups = web_groups()
    ports = many_ports(30, (G1,)) + many_ports(60, (G2,))[30:]
    before = compiled(groups, ports, [])
    joined = [*ports[:-1], replace(ports[-1], security_groups=(G2, G1))]
    after = compiled(groups, joined, [])
    tx = diff(after.ruleset, actual_of(before.ruleset))
    text = tx.text()
    group_set = f"ipset.{tr.group_set_name(G2)}.v4"
    # a port of frontends also joins web: it moves to the chains of its new profile; frontends' members
    # stay the same, and the chains of the other web ports are untouched
    assert f"element inet guestwall {group_set}" not in text
    web_chains = {c for c in before.ruleset.table("inet").chains if tr.profile(ports[0]).filter_name in c}
    assert web_chains and not [c for c in web_chains if c in text]
    # a new member of frontends: only the set gains an element
    newcomer = Port(
        "new", "vnet999", MacAddress(0x525400000999), "p", fixed_ips=(ip_address("10.9.9.9"),), security_groups=(G2,)
    )
    after = compiled(groups, [*ports, newcomer], [])
    tx = diff(after.ruleset, actual_of(before.ruleset))
    lines = tx.text().splitlines()
    assert f"add element inet guestwall {group_set} {{ 10.9.9.9 }}" in lines
    assert not [line for line in lines if line.startswith(("add rule", "flush chain", "delete chain"))]


def test_ten_thousand_blocks_are_one_lookup() -> None:
    blocks = [ProviderBlock(str(i), ip_network(f"10.{i >> 8 & 0xFF}.{i & 0xFF}.0/24")) for i in range(10_000)]
    blocks[0] = ProviderBlock("0", ip_network("172.16.0.0/12"))
    result = compiled(web_groups(), many_ports(3, (G1,)), blocks)
    inet = result.ruleset.table("inet")
    provider_rules = [r for c in inet.chains.values() for r in c.rules if "gw-provider" in render.rule(r)]
    # one rule per family and direction chain, each a single lookup in one interval set
    assert len(provider_rules) == 4
    assert all(render.rule(r).count("@ipset.gw-provider-any") == 1 for r in provider_rules)
    assert len(inet.sets["ipset.gw-provider-any.v4"].elements) == 10_000


def test_derive_everything() -> None:
    groups = web_groups()
    ports = [port(security_groups=(G1,)), port("vnet1", "52:54:00:00:00:02", port_security=False)]
    derived = tr.derive(groups, ports, [])
    assert set(derived.bindings) == {"vnet0", "vnet1"}
    assert derived.bindings["vnet1"].filterref.filter == base.OPEN
    assert derived.address_sets[tr.group_set_name(G1)].networks == (
        ip_network("10.0.0.5/32"),
        ip_network("2001:db8::5/128"),
    )
    assert derived.address_sets[tr.group_set_name(G2)].networks == ()
