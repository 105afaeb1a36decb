"""Which tracked connections a change revokes (pure): the policy evaluation, conntrack line parsing, and
killing exactly the flows the rules no longer allow."""

from __future__ import annotations

from ipaddress import ip_address, ip_network

from guestwall.cloud.conntrack import kill_disallowed, parse_flow
from guestwall.cloud.policy import Flow, Policy
from guestwall.model.cloud import (
    Ethertype,
    Port,
    ProviderBlock,
    RuleDirection,
    SecurityGroup,
    SecurityGroupRule,
)

IN, OUT = RuleDirection.INGRESS, RuleDirection.EGRESS
V4, V6 = Ethertype.IPV4, Ethertype.IPV6


def tcp(src: str, dst: str, dport: int, sport: int = 40000) -> Flow:
    s, d = ip_address(src), ip_address(dst)
    return Flow(s.version, 6, s, d, sport, dport)


def world() -> tuple[list[Port], list[SecurityGroup]]:
    web = SecurityGroup(
        "web",
        "web",
        "p",
        rules=(
            SecurityGroupRule("w1", "web", IN, V4, "tcp", 80, 80, remote_group_id="clients"),
            SecurityGroupRule("w2", "web", IN, V4, "tcp", 22, 22, remote_cidr=ip_network("10.9.0.0/16")),
            SecurityGroupRule("w3", "web", OUT, V4),
        ),
    )
    clients = SecurityGroup("clients", "clients", "p", rules=(SecurityGroupRule("c1", "clients", OUT, V4),))
    ports = [
        Port(
            "a",
            "vnet0",
            "52:54:00:00:00:01",
            "p",
            fixed_ips=(ip_address("10.0.0.1"),),
            security_groups=("web",),
        ),
        Port(
            "b",
            "vnet1",
            "52:54:00:00:00:02",
            "p",
            fixed_ips=(ip_address("10.0.0.2"),),
            security_groups=("clients",),
            allowed_address_pairs=(ip_network("10.0.5.0/24"),),
        ),
        Port(
            "c", "vnet2", "52:54:00:00:00:03", "p", fixed_ips=(ip_address("10.0.0.3"),), port_security=False
        ),
    ]
    return ports, [web, clients]


def test_policy_follows_group_semantics() -> None:
    ports, groups = world()
    policy = Policy(ports, groups, [])
    assert policy.allows(tcp("10.0.0.2", "10.0.0.1", 80))  # client -> web:80 (remote group)
    assert policy.allows(tcp("10.0.5.9", "10.0.0.1", 80))  # from b's allowed address pair
    assert not policy.allows(tcp("10.0.0.2", "10.0.0.1", 22))  # no rule
    assert policy.allows(tcp("10.9.1.1", "10.0.0.1", 22))  # outside, from the CIDR
    assert not policy.allows(tcp("10.0.0.1", "10.0.0.2", 80))  # clients accept no ingress
    assert policy.allows(tcp("10.0.0.3", "10.0.0.3", 1))  # port security off: not filtered
    assert not policy.allows(tcp("10.0.0.3", "10.0.0.1", 80))  # but a's ingress still applies
    dhcp = Flow(4, 17, ip_address("10.0.0.1"), ip_address("10.0.0.254"), 68, 67)
    assert policy.allows(dhcp)  # the base filter's allowances are never revoked


def test_provider_blocks_in_policy() -> None:
    ports, groups = world()
    blocks = [
        ProviderBlock("x", ip_network("10.9.1.0/24")),
        ProviderBlock("y", ip_network("10.9.2.0/24"), "tcp", 22, 22),
    ]
    policy = Policy(ports, groups, blocks)
    assert not policy.allows(tcp("10.9.1.1", "10.0.0.1", 22))
    assert not policy.allows(tcp("10.9.2.1", "10.0.0.1", 22))
    assert policy.allows(tcp("10.9.3.1", "10.0.0.1", 22))
    assert not policy.allows(tcp("10.0.0.1", "10.9.1.1", 443))  # a whole-CIDR block: guests' own flows too


class FakeConntrack:
    def __init__(self, flows: list[Flow]) -> None:
        self.table = list(flows)
        self.deleted: list[Flow] = []

    def flows(self) -> list[Flow]:
        return list(self.table)

    def delete(self, flow: Flow) -> None:
        self.table.remove(flow)
        self.deleted.append(flow)


def test_only_flows_no_longer_allowed_are_killed() -> None:
    ports, groups = world()
    flows = [
        tcp("10.0.0.2", "10.0.0.1", 80),
        tcp("10.9.1.1", "10.0.0.1", 22),
        tcp("10.0.0.2", "10.0.0.1", 22),
        tcp("192.0.2.1", "192.0.2.2", 80),
    ]
    fake = FakeConntrack(flows)
    # b leaves clients: its flow to web:80 loses its rule; the CIDR flow stays; foreign flows are not looked at
    ports[1] = Port("b", "vnet1", "52:54:00:00:00:02", "p", fixed_ips=(ip_address("10.0.0.2"),))
    killed = kill_disallowed(fake, Policy(ports, groups, []), [ports[0]])
    assert killed == [flows[0], flows[2]]
    assert fake.table == [flows[1], flows[3]]


def test_kill_limited_to_peers() -> None:
    ports, groups = world()
    flows = [tcp("10.9.1.1", "10.0.0.1", 22), tcp("10.9.7.1", "10.0.0.1", 22)]
    fake = FakeConntrack(flows)
    blocks = [ProviderBlock("x", ip_network("10.9.0.0/16"))]
    killed = kill_disallowed(fake, Policy(ports, groups, blocks), ports, peers=ip_network("10.9.1.0/24"))
    assert killed == [flows[0]]


def test_parse_conntrack_lines() -> None:
    line = (
        "tcp      6 431999 ESTABLISHED src=10.77.0.10 dst=10.77.0.11 sport=40000 dport=22 src=10.77.0.11 "
        "dst=10.77.0.10 sport=22 dport=40000 [ASSURED] mark=0 use=1"
    )
    assert parse_flow(line) == Flow(4, 6, ip_address("10.77.0.10"), ip_address("10.77.0.11"), 40000, 22)
    icmp6 = (
        "icmpv6   58 29 src=fd77::10 dst=fd77::11 type=128 code=0 id=4567 src=fd77::11 dst=fd77::10 type=129 "
        "code=0 id=4567 mark=0 use=1"
    )
    flow = parse_flow(icmp6)
    assert flow is not None and (
        flow.family,
        flow.protocol,
        flow.icmp_type,
        flow.icmp_code,
        flow.icmp_id,
    ) == (6, 58, 128, 0, 4567)
    assert parse_flow("conntrack v1.4.7 (conntrack-tools): 3 flow entries have been shown.") is None
