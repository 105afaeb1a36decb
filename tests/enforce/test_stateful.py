"""A stateful filter through br_netfilter and conntrack: inbound tcp/22 accepted, tcp/80 dropped, replies flow."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gw import Guestwall

from guestwall.lab import Lab
from guestwall.lab.traffic import frames, ping, probe, tcp_connect, tcp_server, udp_exchange
from netns_fixtures import needs_netns

pytestmark = needs_netns

SSH_ONLY = """<filter name='ssh-only' chain='root'>
  <filterref filter='clean-traffic'/>
  <rule action='accept' direction='out' priority='500'><all/></rule>
  <rule action='accept' direction='in' priority='500'><tcp dstportstart='22'/></rule>
  <rule action='accept' direction='in' priority='500'><icmp/></rule>
  <rule action='drop' direction='inout' priority='1000'><all/></rule>
</filter>
"""


@pytest.fixture(scope="module")
def gw(lab_module: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Guestwall]:
    work = tmp_path_factory.mktemp("stateful")
    g = Guestwall(lab_module, work / "gw.db", work)
    g.define(SSH_ONLY)
    g.bind([lab_module["bob"]], "ssh-only")
    g.bind([lab_module["alice"], lab_module["carol"]], "clean-traffic")
    yield g


def test_inbound_ssh_accepted_http_dropped(gw: Guestwall) -> None:
    lab = gw.lab
    bob = lab["bob"]
    with tcp_server(lab, "bob", 22):
        assert tcp_connect(lab, "alice", bob.ipv4, 22)
    with tcp_server(lab, "bob", 80):
        assert not tcp_connect(lab, "alice", bob.ipv4, 80)


def test_replies_to_outbound_connections_flow(gw: Guestwall) -> None:
    lab = gw.lab
    with tcp_server(lab, "alice", 8080):
        assert tcp_connect(lab, "bob", lab["alice"].ipv4, 8080)
    assert ping(lab, "bob", lab["carol"].ipv4)
    assert udp_exchange(lab, "bob", "carol", 5353) is not None


def test_unsolicited_inbound_udp_is_dropped(gw: Guestwall) -> None:
    lab = gw.lab
    assert udp_exchange(lab, "alice", "bob", 5353) is None


def test_unsolicited_syn_ack_is_dropped(gw: Guestwall) -> None:
    lab = gw.lab
    alice, bob = lab["alice"], lab["bob"]
    got = probe(
        lab,
        "alice",
        [
            frames.tcp4(
                alice.mac, bob.mac, ip_src=alice.ipv4, ip_dst=bob.ipv4, sport=22, dport=40000, flags="SA"
            )
        ],
        receivers=["bob"],
    )
    assert got["bob"] == []
