"""Security groups with real traffic: a rule from a CIDR, a group granting another group (membership
changes are set updates that take effect at once; removal kills the open connection), egress rules."""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import ip_network

import pytest
from cloudlab import CloudLab, listening, run_host

from guestwall.cloud.conntrack import ConntrackTool, proc_flows
from guestwall.cloud.ports import PortChanges
from guestwall.cloud.rules import RuleSpec
from guestwall.lab import Lab
from guestwall.lab.traffic import ping, tcp_connect, tcp_server, udp_exchange
from guestwall.model.cloud import Ethertype, RuleDirection
from guestwall.store import Store
from netns_fixtures import needs_netns

pytestmark = needs_netns

IN, OUT = RuleDirection.INGRESS, RuleDirection.EGRESS


@pytest.fixture
def cl(lab: Lab, store: Store) -> Iterator[CloudLab]:
    yield CloudLab.open(lab, store)


def test_ssh_from_a_cidr_only(cl: CloudLab) -> None:
    lab, cloud = cl.lab, cl.cloud
    cloud.create_group("clients")
    cloud.create_group("ssh")
    # alice .10 and bob .11 are in 10.77.0.8/30; carol .12 is not
    cloud.create_rule(
        "ssh", RuleSpec(IN, protocol="tcp", ports=(22, 22), remote_cidr=ip_network("10.77.0.8/30"))
    )
    for guest in ("alice", "bob", "carol"):
        cl.port(guest, ["clients"])
    cl.port("dave", ["ssh"])
    with tcp_server(lab, "dave", 22):
        assert tcp_connect(lab, "alice", "dave", 22)
        assert tcp_connect(lab, "bob", "dave", 22)
        assert not tcp_connect(lab, "carol", "dave", 22)
    with tcp_server(lab, "dave", 23):
        assert not tcp_connect(lab, "alice", "dave", 23)
    assert not ping(lab, "alice", "dave")  # no ICMP rule
    assert ping(lab, "dave", "alice") is False  # clients accept ingress only from clients
    assert ping(lab, "alice", "bob")  # the new group's own rule: ingress from its members


def test_group_grant_follows_membership_and_kills_revoked_connections(cl: CloudLab) -> None:
    lab, cloud = cl.lab, cl.cloud
    cloud.create_group("web")
    cloud.create_group("frontends")
    cloud.create_group("others")
    cloud.create_rule("web", RuleSpec(IN, protocol="tcp", ports=(8080, 8080), remote_group="frontends"))
    cl.port("bob", ["web"])
    cl.port("alice", ["others"])
    cl.port("carol", ["frontends"])
    with listening(lab, "bob", 8080) as server:
        carols = server.connect("carol")
        assert carols.works()
        with pytest.raises(OSError):
            server.connect("alice")

        cloud.update_port("alice", PortChanges(security_groups=("others", "frontends")))
        alices = server.connect("alice")  # at once: the change is in the kernel when the call returns
        assert alices.works()

        left = cloud.update_port("alice", PortChanges(security_groups=("others",)))
        assert not alices.works()  # killed, although established
        assert carols.works()  # carol is still a member: her connection stays
        with pytest.raises(OSError):
            server.connect("alice")
    killed = left.killed
    assert [(str(f.src), f.dport) for f in killed] == [(lab["alice"].ipv4, 8080)]


def test_membership_change_is_a_set_update_only(cl: CloudLab) -> None:
    lab, cloud = cl.lab, cl.cloud
    cloud.create_group("web")
    cloud.create_group("frontends")
    cloud.create_rule("web", RuleSpec(IN, protocol="tcp", ports=(80, 80), remote_group="frontends"))
    cl.port("bob", ["web"])
    cl.port("carol", ["frontends"])
    cl.port("alice")
    applied = cloud.update_port("alice", PortChanges(security_groups=("frontends",))).applied
    assert applied is not None
    commands = applied.transaction.text()
    # alice's own chains change (new groups), but the web group's rule is untouched: frontends' members
    # set gains her address
    assert (
        f"add element inet guestwall ipset.{_set_name(cloud, 'frontends')}.v4 {{ {lab['alice'].ipv4} }}"
        in commands
    )
    assert "add rule inet guestwall l3i.gw-port-" not in _lines_for_port_filter(commands, cloud, "bob")


def test_removing_a_rule_kills_the_connections_it_allowed(cl: CloudLab) -> None:
    lab, cloud = cl.lab, cl.cloud
    cloud.create_group("clients")
    cloud.create_group("db")
    rule = cloud.create_rule(
        "db", RuleSpec(IN, protocol="tcp", ports=(5432, 5432), remote_group="clients")
    ).value
    cloud.create_rule("db", RuleSpec(IN, protocol="tcp", ports=(6379, 6379), remote_group="clients"))
    cl.port("alice", ["clients"])
    cl.port("carol", ["db"])
    with listening(lab, "carol", 5432) as pg, listening(lab, "carol", 6379) as redis:
        to_pg, to_redis = pg.connect("alice"), redis.connect("alice")
        assert to_pg.works() and to_redis.works()
        cloud.delete_rule(rule.id)
        assert not to_pg.works()
        assert to_redis.works()  # another rule still allows it


def test_egress_rules(cl: CloudLab) -> None:
    lab, cloud = cl.lab, cl.cloud
    cloud.create_group("open")  # all egress, ingress from members
    limited = cloud.create_group("limited").value
    for rule in limited.rules:
        if rule.direction is OUT:
            cloud.delete_rule(rule.id)
    cloud.create_rule(
        "limited", RuleSpec(OUT, protocol="tcp", ports=(80, 80), remote_cidr=ip_network("10.77.0.0/24"))
    )
    cloud.create_rule("limited", RuleSpec(OUT, protocol="udp", ports=(53, 53)))
    cloud.create_rule("open", RuleSpec(IN, protocol="tcp", ports=(80, 81)))
    cloud.create_rule("open", RuleSpec(IN, protocol="udp", ports=(53, 53)))
    cl.port("alice", ["limited"])
    cl.port("bob", ["open"])
    with tcp_server(lab, "bob", 80):
        assert tcp_connect(lab, "alice", "bob", 80)
    with tcp_server(lab, "bob", 81):
        assert not tcp_connect(lab, "alice", "bob", 81)  # bob would accept; alice may not send
    assert udp_exchange(lab, "alice", "bob", 53) is not None
    assert udp_exchange(lab, "alice", "bob", 54) is None
    assert not ping(lab, "alice", "bob")
    # egress to a remote group: alice may reach members of "open" on 8443 only
    cloud.create_rule("limited", RuleSpec(OUT, protocol="tcp", ports=(8443, 8443), remote_group="open"))
    cloud.create_rule("open", RuleSpec(IN, protocol="tcp", ports=(8443, 8443)))
    cl.port("carol", [])
    with tcp_server(lab, "bob", 8443):
        assert tcp_connect(lab, "alice", "bob", 8443)
    # IPv6 egress is separate: limited has no IPv6 egress rule left
    cloud.create_rule("open", RuleSpec(IN, ethertype=Ethertype.IPV6, protocol="tcp", ports=(80, 80)))
    with tcp_server(lab, "bob", 80):
        assert not tcp_connect(lab, "alice", "bob", 80, family=6)
        assert tcp_connect(lab, "alice", "bob", 80)


def _set_name(cloud, group: str) -> str:  # type: ignore[no-untyped-def]
    from guestwall.cloud.translate import group_set_name

    return group_set_name(cloud.get_group(group).id)


def _lines_for_port_filter(commands: str, cloud, guest: str) -> str:  # type: ignore[no-untyped-def]
    from guestwall.cloud.translate import port_filter_name

    name = port_filter_name(cloud.get_port(guest))
    return "\n".join(line for line in commands.splitlines() if name in line)


def test_conntrack_entries_are_gone_after_revocation(cl: CloudLab) -> None:
    lab, cloud = cl.lab, cl.cloud
    cloud.create_group("frontends")
    cloud.create_group("web")
    cloud.create_rule("web", RuleSpec(IN, protocol="tcp", ports=(8080, 8080), remote_group="frontends"))
    cl.port("bob", ["web"])
    cl.port("alice", ["frontends"])
    with listening(lab, "bob", 8080) as server:
        conn = server.connect("alice")
        assert conn.works()
        listed = run_host(lab, "conntrack", "-L", "-p", "tcp", "--dport", "8080").stdout
        assert f"src={lab['alice'].ipv4}" in listed
        # what revocation lists in-process (/proc/net/nf_conntrack of the namespace) is what the tool lists
        tool = ConntrackTool(lab.host_netns)
        in_process = proc_flows(lab.host_netns)
        assert in_process is not None
        ours = {f for f in in_process if f.dport == 8080}
        assert ours == {f for f in tool.tool_flows() if f.dport == 8080}
        assert [str(f.src) for f in ours] == [lab["alice"].ipv4]
        cloud.delete_port("alice")
        listed = run_host(
            lab, "conntrack", "-L", "-p", "tcp", "--dport", "8080", "--state", "ESTABLISHED"
        ).stdout
        assert f"src={lab['alice'].ipv4}" not in listed


def test_incremental_paths_end_where_a_full_apply_would(cl: CloudLab) -> None:
    """Rule and block changes take the engine's incremental paths (chains of one group, set element
    deltas); afterwards a full apply has nothing left to do."""
    from guestwall.services.bindings import reapply

    lab, cloud = cl.lab, cl.cloud
    cloud.create_group("web")
    cloud.create_group("frontends")
    cl.port("bob", ["web"])
    cl.port("alice", ["frontends"])
    made = cloud.create_rule("web", RuleSpec(IN, protocol="tcp", ports=(80, 80), remote_group="frontends"))
    rule = made.value
    assert made.applied is not None and "add element" not in made.applied.transaction.text()
    blocked = cloud.block(ip_network("198.51.100.0/24"))
    block = blocked.value
    assert blocked.applied is not None
    assert blocked.applied.transaction.text().splitlines() == [
        "add element inet guestwall ipset.gw-provider-any.v4 { 198.51.100.0-198.51.100.255 }"
    ]
    cloud.block(ip_network("203.0.113.0/24"), "tcp", (25, 25))  # a new kind: a new rule and set
    with tcp_server(lab, "bob", 80):
        assert tcp_connect(lab, "alice", "bob", 80)
        cloud.delete_rule(rule.id)
        assert not tcp_connect(lab, "alice", "bob", 80)
    cloud.unblock(block.id)
    assert not reapply(cloud.store, cloud.engine).transaction  # type: ignore[arg-type]
