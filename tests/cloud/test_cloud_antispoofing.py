"""A cloud port's own filter with forged frames: the holes libvirt's clean-traffic leaves are closed, IPv6
has its own anti-spoofing, a port without port security is not filtered (and only that port).

Eve (vnet4) forges; what gets through is seen on the bridge (br0, promiscuous) or at the victims.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from ipaddress import IPv6Address

import pytest
from cloudlab import CloudLab
from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.dhcp6 import DHCP6_Solicit
from scapy.layers.inet6 import ICMPv6ND_NS, ICMPv6ND_RA, ICMPv6NDOptSrcLLAddr, IPv6

from guestwall.cloud.ports import PortChanges
from guestwall.cloud.rules import RuleSpec
from guestwall.lab import Lab
from guestwall.lab.traffic import Frame, frames, ping, probe, tcp_connect, tcp_server, udp_exchange
from guestwall.model.cloud import Ethertype, RuleDirection
from guestwall.model.mac import MacAddress
from guestwall.store import Store
from netns_fixtures import needs_netns


def link_local(mac: str) -> IPv6Address:
    return MacAddress.require(mac, "lab guest").link_local()

pytestmark = needs_netns

IN = RuleDirection.INGRESS
ALL_NODES_MAC = "33:33:00:00:00:01"


@pytest.fixture
def cl(lab: Lab, store: Store) -> Iterator[CloudLab]:
    cl = CloudLab.open(lab, store)
    cl.cloud.create_group("default")  # all egress; ingress from members (IPv4 and IPv6)
    yield cl


def members(cl: CloudLab, *guests: str, **fields: object) -> None:
    for guest in guests:
        cl.port(guest, ["default"], **fields)


def indexes(got: Sequence[Frame]) -> set[int]:
    return {f.index for f in got}


def test_clean_traffic_holes_are_closed(cl: CloudLab) -> None:
    lab = cl.lab
    members(cl, "alice", "bob", "eve")
    eve, alice, bob = lab["eve"], lab["alice"], lab["bob"]
    sent = [
        frames.dhcp_discover(eve.mac),  # 0: the DHCP request passes
        frames.udp4(
            eve.mac, "ff:ff:ff:ff:ff:ff", ip_src="0.0.0.0", ip_dst="255.255.255.255", sport=68, dport=53
        ),  # 1
        frames.udp4(
            eve.mac, bob.mac, ip_src="0.0.0.0", ip_dst=bob.ipv4, sport=68, dport=67
        ),  # 2: not broadcast
        frames.arp(eve.mac, op="who-has", psrc="0.0.0.0", pdst="10.77.0.99"),  # 3: ARP probe (DAD) passes
        frames.arp(eve.mac, op="who-has", psrc=alice.ipv4, pdst="10.77.0.99"),  # 4: someone else's address
        frames.udp4(eve.mac, bob.mac, ip_src=eve.ipv4, ip_dst=bob.ipv4, sport=67, dport=68)  # 5: DHCP offer
        / BOOTP(op=2, yiaddr=bob.ipv4)
        / DHCP(options=[("message-type", "offer"), "end"]),
        frames.udp6(
            eve.mac,
            "33:33:00:01:00:02",
            ip_src=str(link_local(eve.mac)),
            ip_dst="ff02::1:2",
            sport=546,
            dport=547,
        )
        / DHCP6_Solicit(),  # 6: DHCPv6 client passes
        frames.udp6(
            eve.mac, bob.mac, ip_src=eve.ipv6, ip_dst=bob.ipv6, sport=547, dport=546
        ),  # 7: DHCPv6 reply
    ]
    got = probe(lab, "eve", sent, receivers=["br0"])
    assert indexes(got["br0"]) == {0, 3, 6}


def test_unsolicited_syn_ack_is_dropped(cl: CloudLab) -> None:
    lab = cl.lab
    members(cl, "alice", "bob")
    alice, bob = lab["alice"], lab["bob"]
    synack = frames.tcp4(
        alice.mac, bob.mac, ip_src=alice.ipv4, ip_dst=bob.ipv4, sport=22, dport=40000, flags="SA"
    )
    syn = frames.tcp4(
        alice.mac, bob.mac, ip_src=alice.ipv4, ip_dst=bob.ipv4, sport=40001, dport=22, flags="S"
    )
    got = probe(lab, "alice", [synack, syn], receivers=["bob"])
    assert indexes(got["bob"]) == {1}  # same group: a new connection is allowed, the stray SYN-ACK is not


def test_dhcp_server_port_may_answer(cl: CloudLab) -> None:
    lab = cl.lab
    members(cl, "alice", "bob")
    cl.port("eve", ["default"], dhcp_server=True)
    eve, bob = lab["eve"], lab["bob"]
    offer = frames.udp4(
        eve.mac, "ff:ff:ff:ff:ff:ff", ip_src=eve.ipv4, ip_dst="255.255.255.255", sport=67, dport=68
    )
    got = probe(lab, "eve", [offer], receivers=["br0", "bob"])
    assert indexes(got["br0"]) == {0}
    assert indexes(got["bob"]) == {0}  # bob's port accepts DHCP answers (the client allowance)
    # and requests reach the server
    got = probe(lab, "bob", [frames.dhcp_discover(bob.mac)], receivers=["eve"])
    assert indexes(got["eve"]) == {0}


def test_port_without_addresses_is_never_unfiltered(cl: CloudLab) -> None:
    lab = cl.lab
    members(cl, "alice", "bob")
    cl.port("eve", ["default"], fixed_ips=())  # address unknown: no IPv4 but DHCP requests
    eve, bob = lab["eve"], lab["bob"]
    sent = [
        frames.dhcp_discover(eve.mac),  # 0
        frames.udp4(eve.mac, bob.mac, ip_src=eve.ipv4, ip_dst=bob.ipv4),  # 1: its would-be address
        frames.arp(eve.mac, op="who-has", psrc=eve.ipv4, pdst=bob.ipv4),  # 2
        frames.arp(eve.mac, op="who-has", psrc="0.0.0.0", pdst=eve.ipv4),  # 3: probing is fine
        frames.icmp6(eve.mac, bob.mac, ip_src=str(link_local(eve.mac)), ip_dst="fe80::1"),  # 4: link-local
        frames.icmp6(eve.mac, bob.mac, ip_src=eve.ipv6, ip_dst=bob.ipv6),  # 5: no IPv6 fixed either
    ]
    got = probe(lab, "eve", sent, receivers=["br0"])
    assert indexes(got["br0"]) == {0, 3, 4}
    assert not ping(lab, "eve", "bob")


def test_ipv6_spoofing_and_router_advertisements(cl: CloudLab) -> None:
    lab = cl.lab
    members(cl, "alice", "bob", "eve")
    eve, alice, bob = lab["eve"], lab["alice"], lab["bob"]
    assert ping(lab, "eve", "bob", family=6)  # NDP and ICMPv6 between members work
    assert ping(lab, "bob", "eve", family=6)
    ra = (
        frames.eth(eve.mac, ALL_NODES_MAC)
        / IPv6(src=str(link_local(eve.mac)), dst="ff02::1", hlim=255)
        / ICMPv6ND_RA(routerlifetime=1800)
        / ICMPv6NDOptSrcLLAddr(lladdr=eve.mac)
    )
    dad = (
        frames.eth(eve.mac, "33:33:ff:00:00:99")
        / IPv6(src="::", dst="ff02::1:ff00:99", hlim=255)
        / ICMPv6ND_NS(tgt="fd77::99")
    )
    sent = [
        frames.icmp6(eve.mac, bob.mac, ip_src=alice.ipv6, ip_dst=bob.ipv6),  # 0: alice's address
        frames.icmp6(
            eve.mac, bob.mac, ip_src=str(link_local(alice.mac)), ip_dst=bob.ipv6
        ),  # 1: her link-local
        frames.icmp6(alice.mac, bob.mac, ip_src=eve.ipv6, ip_dst=bob.ipv6),  # 2: alice's MAC
        frames.udp6(eve.mac, bob.mac, ip_src="::", ip_dst=bob.ipv6),  # 3: :: only for DAD
        ra,  # 4: no router advertisements from guests
        frames.icmp6(eve.mac, bob.mac, ip_src=eve.ipv6, ip_dst=bob.ipv6),  # 5: her own address
        dad,  # 6: duplicate address detection
    ]
    got = probe(lab, "eve", sent, receivers=["br0", "bob"])
    assert indexes(got["br0"]) == {5, 6}
    assert 4 not in indexes(got["bob"])


def test_port_security_off_is_unfiltered_for_that_port_only(cl: CloudLab) -> None:
    lab, cloud = cl.lab, cl.cloud
    members(cl, "alice", "bob")
    cl.port("eve", [], port_security=False)
    eve, alice, bob = lab["eve"], lab["alice"], lab["bob"]
    spoofed = [
        frames.udp4(eve.mac, bob.mac, ip_src=alice.ipv4, ip_dst=bob.ipv4),  # 0
        frames.eth(eve.mac, bob.mac, ethertype=0x88B5),  # 1: any ethertype
        frames.udp4("52:54:00:99:99:99", bob.mac, ip_src="10.99.0.1", ip_dst=bob.ipv4),  # 2: any MAC
    ]
    got = probe(lab, "eve", spoofed, receivers=["br0"])
    assert indexes(got["br0"]) == {0, 1, 2}
    # bob's own port still filters what reaches him: eve is not in his group
    with tcp_server(lab, "bob", 22):
        assert not tcp_connect(lab, "eve", "bob", 22)
    with tcp_server(lab, "eve", 22):
        assert tcp_connect(lab, "bob", "eve", 22)  # bob may send anything; eve takes anything
    # and alice is still held to her addresses
    got = probe(
        lab, "alice", [frames.udp4(alice.mac, bob.mac, ip_src=eve.ipv4, ip_dst=bob.ipv4)], receivers=["br0"]
    )
    assert got["br0"] == []
    # turning port security on again filters eve at once
    cloud.update_port("eve", PortChanges(port_security=True))
    got = probe(lab, "eve", spoofed, receivers=["br0"])
    assert got["br0"] == []


def test_allowed_address_pairs(cl: CloudLab) -> None:
    lab, cloud = cl.lab, cl.cloud
    members(cl, "alice", "bob")
    from ipaddress import ip_network

    cl.port(
        "eve", ["default"], allowed_address_pairs=(ip_network("10.77.0.128/25"), ip_network("fd77::beef/128"))
    )
    eve, bob = lab["eve"], lab["bob"]
    sent = [
        frames.udp4(eve.mac, bob.mac, ip_src="10.77.0.200", ip_dst=bob.ipv4),  # 0: in the pair's CIDR
        frames.udp4(eve.mac, bob.mac, ip_src="10.77.0.100", ip_dst=bob.ipv4),  # 1: outside
        frames.arp(eve.mac, op="is-at", psrc="10.77.0.129", pdst=bob.ipv4, dst=bob.mac),  # 2: a VIP's ARP
        frames.icmp6(eve.mac, bob.mac, ip_src="fd77::beef", ip_dst=bob.ipv6),  # 3
    ]
    got = probe(lab, "eve", sent, receivers=["br0"])
    assert indexes(got["br0"]) == {0, 2, 3}
    # the pairs are members' addresses too: bob accepts them as the group's
    assert "10.77.0.128/25" in {str(n) for n in _members(cloud, "default")}
    assert udp_exchange(lab, "eve", "bob", 5000) is not None


def test_ipv6_group_rules(cl: CloudLab) -> None:
    lab, cloud = cl.lab, cl.cloud
    cloud.create_group("web")
    cloud.create_rule("web", RuleSpec(IN, ethertype=Ethertype.IPV6, protocol="tcp", ports=(443, 443)))
    cloud.create_rule("web", RuleSpec(IN, ethertype=Ethertype.IPV6, protocol="icmp", icmp_type=128))
    members(cl, "alice")
    cl.port("bob", ["web"])
    with tcp_server(lab, "bob", 443):
        assert tcp_connect(lab, "alice", "bob", 443, family=6)
        assert not tcp_connect(lab, "alice", "bob", 443)  # no IPv4 rule
    assert ping(lab, "alice", "bob", family=6)
    assert not ping(lab, "alice", "bob")


def _members(cloud, group: str):  # type: ignore[no-untyped-def]
    from guestwall.cloud.translate import group_set_name

    name = group_set_name(cloud.get_group(group).id)
    with cloud.store.read() as reader:
        return next(s for s in reader.address_sets() if s.name == name).networks


def test_udp_exchange_between_members(cl: CloudLab) -> None:
    members(cl, "alice", "bob")
    assert udp_exchange(cl.lab, "alice", "bob", 5353) is not None
    assert udp_exchange(cl.lab, "alice", "bob", 5353, family=6) is not None
