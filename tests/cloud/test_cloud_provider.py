"""The seed's story with real traffic: Alice's guest brute-forces ssh and probes SMTP on two instances; Bob,
the administrator, blocks her for every guest, ahead of all security groups; then unblocks. Other sources
(eve) are unaffected throughout."""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import ip_network

import pytest
from cloudlab import CloudLab, listening

from guestwall.cloud.rules import RuleSpec
from guestwall.lab import Lab
from guestwall.lab.traffic import ping, tcp_connect, tcp_server
from guestwall.model.cloud import Ethertype, RuleDirection
from guestwall.store import Store
from netns_fixtures import needs_netns

pytestmark = needs_netns

INSTANCES = ("carol", "dave")
SERVICES = (22, 25)


@pytest.fixture
def cl(lab: Lab, store: Store) -> Iterator[CloudLab]:
    cl = CloudLab.open(lab, store)
    cloud = cl.cloud
    cloud.create_group("clients")
    cloud.create_group("servers")
    for port in SERVICES:
        cloud.create_rule("servers", RuleSpec(RuleDirection.INGRESS, protocol="tcp", ports=(port, port)))
    cloud.create_rule("servers", RuleSpec(RuleDirection.INGRESS, protocol="icmp"))
    for guest in ("alice", "eve"):
        cl.port(guest, ["clients"])
    for guest in INSTANCES:
        cl.port(guest, ["servers"])
    yield cl


def reachable(lab: Lab, source: str) -> dict[tuple[str, int], bool]:
    out = {}
    for instance in INSTANCES:
        for port in SERVICES:
            with tcp_server(lab, instance, port):
                out[(instance, port)] = tcp_connect(lab, source, instance, port)
    return out


def test_alice_blocked_then_unblocked_other_sources_unaffected(cl: CloudLab) -> None:
    lab, cloud = cl.lab, cl.cloud
    everything = {(i, p): True for i in INSTANCES for p in SERVICES}
    nothing = {(i, p): False for i in INSTANCES for p in SERVICES}
    assert reachable(lab, "alice") == everything
    assert reachable(lab, "eve") == everything

    block = cloud.block(ip_network(f"{lab['alice'].ipv4}/32"), description="brute-forcing ssh").value
    assert reachable(lab, "alice") == nothing
    assert not ping(lab, "alice", "carol")
    assert reachable(lab, "eve") == everything
    assert ping(lab, "eve", "carol")

    assert cloud.unblock(block.id).value == [block]
    assert reachable(lab, "alice") == everything
    assert reachable(lab, "eve") == everything


def test_block_of_one_protocol_and_port(cl: CloudLab) -> None:
    lab, cloud = cl.lab, cl.cloud
    cloud.block(ip_network(f"{lab['alice'].ipv4}/32"), "tcp", (25, 25))
    got = reachable(lab, "alice")
    assert got == {("carol", 22): True, ("carol", 25): False, ("dave", 22): True, ("dave", 25): False}
    assert all(reachable(lab, "eve").values())
    cloud.unblock(f"{lab['alice'].ipv4}/32", "tcp", (25, 25))
    assert all(reachable(lab, "alice").values())


def test_block_kills_open_connections_from_the_cidr_only(cl: CloudLab) -> None:
    lab, cloud = cl.lab, cl.cloud
    with listening(lab, "carol", 22) as server:
        alices, eves = server.connect("alice"), server.connect("eve")
        assert alices.works() and eves.works()
        blocked = cloud.block(
            ip_network(f"{lab['alice'].ipv4}/31")
        )  # .10-.11: alice (and bob, who has no port)
        assert not alices.works()
        assert eves.works()
    assert any(f.src.exploded == lab["alice"].ipv4 for f in blocked.killed)


def test_ipv6_sources_are_blocked_too(cl: CloudLab) -> None:
    lab, cloud = cl.lab, cl.cloud
    cloud.create_rule(
        "servers", RuleSpec(RuleDirection.INGRESS, ethertype=Ethertype.IPV6, protocol="tcp", ports=(22, 22))
    )
    with tcp_server(lab, "carol", 22):
        assert tcp_connect(lab, "alice", "carol", 22, family=6)
        cloud.block(ip_network(f"{lab['alice'].ipv6}/128"))
        assert not tcp_connect(lab, "alice", "carol", 22, family=6)
        assert tcp_connect(lab, "alice", "carol", 22)  # IPv4 was not blocked
        assert tcp_connect(lab, "eve", "carol", 22, family=6)
