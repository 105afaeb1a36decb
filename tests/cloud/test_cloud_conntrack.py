"""Which tracked connections a change revokes, decided on the compiled programs (cloud/revoke.py with the
simulator): a store, a recording kernel and a fake conntrack table; and conntrack line parsing."""

from __future__ import annotations

from ipaddress import ip_address, ip_network

import pytest

from guestwall.cloud.conntrack import Flow, parse_flow
from guestwall.cloud.facade import Cloud
from guestwall.cloud.ports import PortChanges
from guestwall.cloud.revoke import Judge
from guestwall.cloud.rules import RuleSpec
from guestwall.config import HostConfig
from guestwall.dataplane.backend import RecordingBackend
from guestwall.engine import Engine
from guestwall.model.cloud import Port, RuleDirection
from guestwall.store import Store

IN, OUT = RuleDirection.INGRESS, RuleDirection.EGRESS


def tcp(src: str, dst: str, dport: int, sport: int = 40000) -> Flow:
    s, d = ip_address(src), ip_address(dst)
    return Flow(s.version, 6, s, d, sport, dport)


class FakeConntrack:
    def __init__(self, flows: list[Flow]) -> None:
        self.table = list(flows)
        self.deleted: list[Flow] = []

    def flows(self) -> list[Flow]:
        return list(self.table)

    def delete(self, flow: Flow) -> None:
        self.table.remove(flow)
        self.deleted.append(flow)


@pytest.fixture
def world(store: Store) -> Cloud:
    """web (a): tcp/80 from clients' members, tcp/22 from 10.9.0.0/16; clients (b, with a pair 10.0.5.0/24);
    c without port security."""
    cloud = Cloud(store, Engine(RecordingBackend(), HostConfig()))
    cloud.create_group("web", member_ingress=False)
    cloud.create_group("clients", member_ingress=False)
    cloud.create_rule("web", RuleSpec(IN, protocol="tcp", ports=(80, 80), remote_group="clients"))
    cloud.create_rule(
        "web", RuleSpec(IN, protocol="tcp", ports=(22, 22), remote_cidr=ip_network("10.9.0.0/16"))
    )
    mac = "52:54:00:00:00:0{}"
    cloud.create_port(
        Port(
            "",
            "vnet0",
            mac.format(1),
            "default",
            fixed_ips=(ip_address("10.0.0.1"),),
            security_groups=("web",),
        )
    )
    cloud.create_port(
        Port(
            "",
            "vnet1",
            mac.format(2),
            "default",
            fixed_ips=(ip_address("10.0.0.2"),),
            allowed_address_pairs=(ip_network("10.0.5.0/24"),),
            security_groups=("clients",),
        )
    )
    cloud.create_port(
        Port("", "vnet2", mac.format(3), "default", fixed_ips=(ip_address("10.0.0.3"),), port_security=False)
    )
    return cloud


def test_verdicts_come_from_the_enforced_programs(world: Cloud) -> None:
    with world.store.read() as reader:
        judge = Judge(reader)
        assert judge.allows(tcp("10.0.0.2", "10.0.0.1", 80))  # client -> web:80 (remote group)
        assert judge.allows(tcp("10.0.5.9", "10.0.0.1", 80))  # from b's allowed address pair
        assert not judge.allows(tcp("10.0.0.2", "10.0.0.1", 22))  # no rule
        assert judge.allows(tcp("10.9.1.1", "10.0.0.1", 22))  # outside, from the CIDR
        assert not judge.allows(tcp("10.0.0.1", "10.0.0.2", 80))  # clients accept no ingress
        assert judge.allows(tcp("10.0.0.3", "192.0.2.1", 1))  # port security off: not filtered
        assert not judge.allows(tcp("10.0.0.3", "10.0.0.1", 80))  # but a's ingress still applies
        assert not judge.allows(tcp("10.0.0.9", "10.0.0.1", 22))  # a spoofed source: no port has it
        dhcp = Flow(4, 17, ip_address("10.0.0.1"), ip_address("10.0.0.254"), 68, 67)
        assert judge.allows(dhcp)  # the base filter's allowances are never revoked


def test_provider_blocks_are_in_the_programs(world: Cloud) -> None:
    world.block(ip_network("10.9.1.0/24"))
    world.block(ip_network("10.9.2.0/24"), "tcp", (22, 22))
    with world.store.read() as reader:
        judge = Judge(reader)
        assert not judge.allows(tcp("10.9.1.1", "10.0.0.1", 22))
        assert not judge.allows(tcp("10.9.2.1", "10.0.0.1", 22))
        assert judge.allows(tcp("10.9.3.1", "10.0.0.1", 22))
        assert not judge.allows(tcp("10.0.0.1", "10.9.1.1", 443))  # a whole-CIDR block: guests' own flows too


def test_only_flows_no_longer_allowed_are_killed(world: Cloud) -> None:
    flows = [
        tcp("10.0.0.2", "10.0.0.1", 80),
        tcp("10.9.1.1", "10.0.0.1", 22),
        tcp("10.0.0.2", "10.0.0.1", 22),
        tcp("192.0.2.1", "192.0.2.2", 80),
    ]
    fake = FakeConntrack(flows)
    cloud = Cloud(world.store, world.ctx.engine, fake)
    # b leaves clients: its flow to web:80 loses its rule; the CIDR flow stays; foreign flows are not looked at
    left = cloud.update_port("vnet1", PortChanges(security_groups=()))
    assert left.killed == (flows[0], flows[2])
    assert fake.table == [flows[1], flows[3]]


def test_a_deleted_rule_kills_what_only_it_allowed(world: Cloud) -> None:
    flows = [tcp("10.9.1.1", "10.0.0.1", 22), tcp("10.0.0.2", "10.0.0.1", 80)]
    fake = FakeConntrack(flows)
    cloud = Cloud(world.store, world.ctx.engine, fake)
    ssh = next(r for r in cloud.get_group("web").rules if r.port_min == 22)
    gone = cloud.delete_rule(ssh.id)
    assert gone.killed == (flows[0],) and fake.table == [flows[1]]
    # the sender's egress counts too: without clients' IPv4 egress rule b may not open it any more
    egress = next(r for r in cloud.get_group("clients").rules if r.ethertype.version == 4)
    assert cloud.delete_rule(egress.id).killed == (flows[1],) and fake.table == []


def test_kill_limited_to_the_blocked_peers(world: Cloud) -> None:
    flows = [
        tcp("10.9.1.1", "10.0.0.1", 22),
        tcp("10.9.7.1", "10.0.0.1", 22),
        tcp("10.0.0.2", "10.0.0.1", 22),
    ]
    fake = FakeConntrack(flows)
    cloud = Cloud(world.store, world.ctx.engine, fake)
    blocked = cloud.block(ip_network("10.9.1.0/24"))
    # the flow from 10.0.0.2 is not allowed either, but the block did not revoke it: it is not looked at
    assert blocked.killed == (flows[0],) and fake.table == flows[1:]


def test_a_failing_conntrack_is_a_warning(world: Cloud) -> None:
    from guestwall.errors import DataplaneError

    class Broken(FakeConntrack):
        def flows(self) -> list[Flow]:
            raise DataplaneError("conntrack -L failed")

    cloud = Cloud(world.store, world.ctx.engine, Broken([]))
    left = cloud.update_port("vnet1", PortChanges(security_groups=()))
    assert left.killed == () and left.value.security_groups == ()
    assert left.warnings == (
        "the change is in effect, but open connections were not checked: conntrack -L failed",
    )


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


def test_parse_proc_table_lines() -> None:
    """/proc/net/nf_conntrack: the family's name and number first, IPv6 addresses written out in full."""
    line = (
        "ipv4     2 tcp      6 431999 ESTABLISHED src=10.77.0.10 dst=10.77.0.11 sport=40000 dport=22 "
        "src=10.77.0.11 dst=10.77.0.10 sport=22 dport=40000 [ASSURED] mark=0 zone=0 use=2"
    )
    assert parse_flow(line) == Flow(4, 6, ip_address("10.77.0.10"), ip_address("10.77.0.11"), 40000, 22)
    udp6 = (
        "ipv6     10 udp      17 29 src=fd77:0000:0000:0000:0000:0000:0000:0010 "
        "dst=fd77:0000:0000:0000:0000:0000:0000:0011 sport=5353 dport=53 [UNREPLIED] "
        "src=fd77:0000:0000:0000:0000:0000:0000:0011 dst=fd77:0000:0000:0000:0000:0000:0000:0010 "
        "sport=53 dport=5353 mark=0 zone=0 use=2"
    )
    assert parse_flow(udp6) == Flow(6, 17, ip_address("fd77::10"), ip_address("fd77::11"), 5353, 53)


class CountingConntrack(FakeConntrack):
    def __init__(self, flows: list[Flow]) -> None:
        super().__init__(flows)
        self.listed = 0

    def flows(self) -> list[Flow]:
        self.listed += 1
        return super().flows()


def test_changes_that_revoke_nothing_do_not_list_the_table(world: Cloud) -> None:
    fake = CountingConntrack([tcp("10.0.0.2", "10.0.0.1", 22)])
    cloud = Cloud(world.store, world.ctx.engine, fake)
    mac = "52:54:00:00:00:09"
    cloud.create_port(Port("", "vnet9", mac, "default", fixed_ips=(ip_address("10.0.0.9"),)))
    cloud.update_port("vnet9", PortChanges(security_groups=("clients",)))  # a join
    made = cloud.block(ip_network("10.99.0.0/24"))
    assert fake.listed == 1 and made.killed == ()  # the block looks; nothing of it is in the table
    cloud.unblock(made.value.id)
    assert fake.listed == 1 and fake.table == [tcp("10.0.0.2", "10.0.0.1", 22)]
    # a leave looks: the flow at b's address (no rule allows it) goes
    left = cloud.update_port("vnet1", PortChanges(security_groups=()))
    assert left.killed == (tcp("10.0.0.2", "10.0.0.1", 22),)
    assert fake.listed == 2 and fake.table == []


def test_a_deleted_port_kills_the_flows_at_its_addresses_only(world: Cloud) -> None:
    flows = [
        tcp("10.0.5.7", "10.0.0.1", 80),  # from b's allowed address pair
        tcp("10.0.0.2", "10.0.0.1", 80),  # from b's fixed address
        tcp("10.0.0.3", "10.0.0.1", 80),  # c: never allowed, but deleting b did not revoke it
    ]
    fake = FakeConntrack(flows)
    cloud = Cloud(world.store, world.ctx.engine, fake)
    gone = cloud.delete_port("vnet1")
    assert gone.killed == (flows[0], flows[1]) and fake.table == [flows[2]]


def test_ports_at_an_address_come_from_the_store(world: Cloud) -> None:
    with world.store.read() as reader:
        judge = Judge(reader)
        assert [p.device for p in judge.ports_at(ip_address("10.0.0.1"))] == ["vnet0"]
        assert [p.device for p in judge.ports_at(ip_address("10.0.5.200"))] == ["vnet1"]  # in a pair
        assert judge.ports_at(ip_address("10.0.0.10")) == []  # "10.0.0.1" is a prefix of its text
        assert judge.port_for(ip_address("10.0.0.2")) is not None
        assert judge.ports_at(ip_address("fd00::1")) == []
