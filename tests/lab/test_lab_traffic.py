"""Traffic between lab guests with no filter loaded: ordinary traffic flows, forged frames arrive (so the
tools can show a filter's effect), and the neighbour-table and FDB readers see what the frames changed."""

from __future__ import annotations

import pytest
from scapy.layers.dhcp import DHCP
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Dot1Q

from guestwall.lab import Lab
from guestwall.lab.traffic import (
    arp_cache,
    fdb,
    fdb_port,
    frames,
    iperf3,
    neighbours,
    ping,
    probe,
    send,
    tcp_connect,
    tcp_server,
    udp_exchange,
)
from netns_fixtures import needs_netns

pytestmark = needs_netns

NOBODY_MAC = "52:54:00:66:66:66"


def learn(lab: Lab, *names: str) -> None:
    """Have the guests talk, so the bridge has learned their ports and nothing unicast is flooded."""
    for name in names:
        assert ping(lab, name, lab.bridge_ipv4)


def test_ping_ipv4_and_ipv6(lab: Lab) -> None:
    assert ping(lab, "alice", "bob")
    assert ping(lab, "alice", "bob", family=6)
    assert ping(lab, "carol", lab.bridge_ipv6)
    assert not ping(lab, "alice", "10.77.0.200", timeout=0.3)  # nobody has it


def test_arp_cache_reader_sees_resolution(lab: Lab) -> None:
    alice, bob = lab["alice"], lab["bob"]
    assert bob.ipv4 not in arp_cache(lab, "alice")
    assert ping(lab, "alice", "bob")
    assert arp_cache(lab, "alice")[bob.ipv4] == bob.mac
    assert arp_cache(lab, "bob")[alice.ipv4] == alice.mac
    assert ping(lab, "alice", "bob", family=6)
    assert any(n.ip == bob.ipv6 and n.mac == bob.mac for n in neighbours(lab, "alice"))


def test_unfiltered_arp_spoofing_changes_the_victims_cache(lab: Lab) -> None:
    alice, bob, eve = lab["alice"], lab["bob"], lab["eve"]
    assert ping(lab, "alice", "bob")
    assert arp_cache(lab, "alice")[bob.ipv4] == bob.mac
    lie = frames.arp(eve.mac, op="is-at", psrc=bob.ipv4, pdst=alice.ipv4, hwdst=alice.mac, dst=alice.mac)
    got = probe(lab, "eve", [lie], ["alice", "bob"])
    assert [f.index for f in got["alice"]] == [0] and got["bob"] == []
    assert got["alice"][0].packet[ARP].hwsrc == eve.mac
    assert arp_cache(lab, "alice")[bob.ipv4] == eve.mac


def test_fdb_reader_sees_learning_and_poisoning(lab: Lab) -> None:
    bob, eve = lab["bob"], lab["eve"]
    learn(lab, "bob", "eve")
    assert fdb_port(lab, bob.mac) == "vnet1"
    assert fdb_port(lab, eve.mac) == "vnet4"
    assert fdb_port(lab, NOBODY_MAC) is None
    assert any(e.local and e.port == lab.bridge for e in fdb(lab))
    # eve sends a frame with bob's MAC as its source: unfiltered, the bridge now sends bob's traffic to eve
    send(lab, "eve", [frames.eth(bob.mac, ethertype=0x88B5)])
    assert fdb_port(lab, bob.mac) == "vnet4"
    alice = lab["alice"]
    got = probe(lab, "alice", [frames.udp4(alice.mac, bob.mac, ip_src=alice.ipv4, ip_dst=bob.ipv4)])
    assert [f.index for f in got["eve"]] == [0] and got["bob"] == []


def test_forged_frames_arrive_when_unfiltered(lab: Lab) -> None:
    alice, bob, eve = lab["alice"], lab["bob"], lab["eve"]
    learn(lab, "alice", "bob", "carol", "dave", "eve")
    batch = [
        # 0: IPv4 with a forged source address, unicast to bob
        frames.udp4(eve.mac, bob.mac, ip_src="203.0.113.9", ip_dst=bob.ipv4, dport=5353),
        # 1: forged source MAC (nobody's), unicast to bob
        frames.udp4(NOBODY_MAC, bob.mac, ip_src=eve.ipv4, ip_dst=bob.ipv4),
        # 2: ARP reply claiming bob's address, to alice
        frames.arp(eve.mac, op="is-at", psrc=bob.ipv4, pdst=alice.ipv4, hwdst=alice.mac, dst=alice.mac),
        # 3: 802.1Q-tagged IPv4 broadcast with a forged source
        frames.udp4(eve.mac, frames.BROADCAST, ip_src=bob.ipv4, ip_dst="10.77.0.255", vlan=42),
        # 4: an unknown ethertype, broadcast
        frames.eth(eve.mac, ethertype=0x88B5),
        # 5: RARP
        frames.rarp(eve.mac),
        # 6: DHCP discover from 0.0.0.0
        frames.dhcp_discover(eve.mac),
        # 7: IPv6 with a forged source, unicast to bob
        frames.udp6(eve.mac, bob.mac, ip_src="fd77::bad", ip_dst=bob.ipv6),
    ]
    got = probe(lab, "eve", batch, ["alice", "bob", "carol", "br0", "vnet4"])
    broadcast = [3, 4, 5, 6]
    assert [f.index for f in got["bob"]] == [0, 1, *broadcast, 7]
    assert [f.index for f in got["alice"]] == [2, *broadcast]
    assert [f.index for f in got["carol"]] == broadcast
    assert sorted({f.index for f in got["vnet4"]}) == list(range(len(batch)))  # all left eve's port
    assert {f.index for f in got["br0"]} >= set(range(len(batch)))  # the bridge forwarded all of them
    by_index = {f.index: f.packet for f in got["bob"]}
    assert by_index[0][IP].src == "203.0.113.9" and by_index[0][UDP].dport == 5353
    assert by_index[1].src == NOBODY_MAC
    assert by_index[3][Dot1Q].vlan == 42 and by_index[3][IP].src == bob.ipv4
    assert by_index[4].type == 0x88B5 and by_index[5].type == 0x8035
    assert by_index[6][IP].src == "0.0.0.0" and by_index[6].haslayer(DHCP)
    assert by_index[7][IPv6].src == "fd77::bad"


def test_probe_only_reports_its_own_frames(lab: Lab) -> None:
    eve = lab["eve"]
    send(lab, "eve", [frames.eth(eve.mac, ethertype=0x88B5)] * 3)  # unmarked: nobody's probe
    got = probe(lab, "eve", [frames.eth(eve.mac, ethertype=0x88B6)], ["alice"], timeout=0.2)
    assert [(f.index, f.packet.type) for f in got["alice"]] == [(0, 0x88B6)]
    assert probe(lab, "eve", [], ["alice"], timeout=0.1) == {"alice": []}


def test_tcp_to_a_listener(lab: Lab) -> None:
    alice, carol = lab["alice"], lab["carol"]
    with tcp_server(lab, "bob", 8080) as server:
        assert tcp_connect(lab, "alice", "bob", 8080)
        assert tcp_connect(lab, "carol", "bob", 8080, family=6)
        assert not tcp_connect(lab, "alice", "bob", 8081, timeout=0.5)  # refused
    assert server.peers == [alice.ipv4, carol.ipv6]
    assert not tcp_connect(lab, "alice", "bob", 8080, timeout=0.5)  # listener gone


def test_udp_exchange(lab: Lab) -> None:
    assert udp_exchange(lab, "alice", "dave", 9999, b"hello") == b"hello"
    assert udp_exchange(lab, "dave", "alice", 9999, family=6) is not None
    assert udp_exchange(lab, "alice", "dave", 9999, b"x", timeout=0.2) == b"x"


@pytest.mark.parametrize("udp", [False, True], ids=["tcp", "udp"])
def test_iperf3_reports_numbers(lab: Lab, udp: bool) -> None:
    result = iperf3(lab, "bob", "alice", seconds=1, udp=udp, length=64 if udp else None)
    print(f"iperf3 {result.protocol}: {result.gbit_s:.2f} Gbit/s, {result.pkt_s:,.0f} pkt/s")
    assert result.gbit_s > 0 and result.pkt_s > 0 and 0.5 < result.seconds < 3
