"""Forged frames against a cloud port's filter (issue 15): neighbour advertisement spoofing (item 3), qemu's
RARP announcement (item 12), allowed address pairs and blocks whose intervals overlap (item 11).

Eve (vnet4) forges; what gets through is seen on the bridge (br0, promiscuous) or at the victims.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from ipaddress import IPv6Address, ip_address, ip_network

import pytest
from cloudlab import CloudLab
from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6NDOptDstLLAddr, IPv6
from scapy.layers.l2 import ARP, Ether

from guestwall.cloud.ports import PortChanges
from guestwall.lab import Lab
from guestwall.lab.traffic import Frame, frames, ping, probe
from guestwall.model.mac import MacAddress
from guestwall.store import Store
from netns_fixtures import needs_netns


def link_local(mac: str) -> IPv6Address:
    return MacAddress.require(mac, "lab guest").link_local()

pytestmark = needs_netns

ALL_NODES_MAC = "33:33:00:00:00:01"


@pytest.fixture
def cl(lab: Lab, store: Store) -> Iterator[CloudLab]:
    cl = CloudLab.open(lab, store)
    cl.cloud.create_group("default")
    yield cl


def indexes(got: Sequence[Frame]) -> set[int]:
    return {f.index for f in got}


def na(mac: str, src: str, target: str, dst_mac: str = ALL_NODES_MAC, dst: str = "ff02::1") -> Frame:
    """An unsolicited, overriding neighbour advertisement: ``target`` is at ``mac``."""
    return (
        frames.eth(mac, dst_mac)
        / IPv6(src=src, dst=dst, hlim=255)
        / ICMPv6ND_NA(tgt=target, R=0, S=0, O=1)
        / ICMPv6NDOptDstLLAddr(lladdr=mac)
    )


def test_neighbour_advertisement_spoofing_is_dropped(cl: CloudLab) -> None:
    lab = cl.lab
    for guest in ("alice", "bob", "eve"):
        cl.port(
            guest,
            ["default"],
            allowed_address_pairs=(ip_network("fd77::be00/120"),) if guest == "eve" else (),
        )
    eve, alice = lab["eve"], lab["alice"]
    eve_ll = str(link_local(eve.mac))
    sent = [
        na(eve.mac, eve.ipv6, alice.ipv6),  # 0: alice's address at eve's MAC
        na(eve.mac, eve_ll, str(link_local(alice.mac))),  # 1: alice's link-local address
        na(eve.mac, eve.ipv6, "fd77::99"),  # 2: nobody's
        na(eve.mac, eve.ipv6, eve.ipv6),  # 3: her own fixed address
        na(eve.mac, eve_ll, eve_ll),  # 4: her own link-local address
        na(eve.mac, eve.ipv6, "fd77::be42"),  # 5: in her allowed address pair
    ]
    got = probe(lab, "eve", sent, receivers=["br0", "alice"])
    assert indexes(got["br0"]) == {3, 4, 5}
    assert indexes(got["alice"]) == {3, 4, 5}
    assert ping(lab, "eve", "alice", family=6) and ping(lab, "alice", "eve", family=6)  # real NDP works


def rarp(mac: str, ethertype: int = 0x8035) -> Frame:
    """qemu's self-announcement after migration (its qemu_announce_self): RARP request-reverse, broadcast."""
    return Ether(src=mac, dst="ff:ff:ff:ff:ff:ff", type=ethertype) / ARP(
        hwtype=1, ptype=0x0800, op=3, hwsrc=mac, psrc="0.0.0.0", hwdst=mac, pdst="0.0.0.0"
    )


def test_qemu_rarp_announcement_passes_as_in_clean_traffic(cl: CloudLab) -> None:
    lab = cl.lab
    for guest in ("alice", "eve"):
        cl.port(guest, ["default"])
    eve, alice = lab["eve"], lab["alice"]
    sent = [
        rarp(eve.mac),  # 0: the announcement
        rarp(eve.mac, 0x0835),  # 1: qemu's old, wrong ethertype
        rarp(alice.mac),  # 2: someone else's MAC: spoofed
        Ether(src=eve.mac, dst="ff:ff:ff:ff:ff:ff", type=0x8035)
        / ARP(
            hwtype=1, ptype=0x0800, op=4, hwsrc=eve.mac, psrc="10.77.0.1", hwdst=eve.mac, pdst="0.0.0.0"
        ),  # 3
    ]
    got = probe(lab, "eve", sent, receivers=["br0"])
    assert indexes(got["br0"]) == {0, 1}


def test_pairs_covering_own_address_and_router_guests(cl: CloudLab) -> None:
    lab, cloud = cl.lab, cl.cloud
    alice, bob = lab["alice"], lab["bob"]
    cl.port("alice", ["default"], allowed_address_pairs=(ip_network("10.77.0.0/24"),))
    cl.port("bob", ["default"], allowed_address_pairs=(ip_network("0.0.0.0/0"), ip_network("::/0")))
    assert ping(lab, "alice", "bob") and ping(lab, "bob", "alice", family=6)
    sent = [frames.udp4(bob.mac, alice.mac, ip_src="192.0.2.7", ip_dst=alice.ipv4)]  # a routed source
    got = probe(lab, "bob", sent, receivers=["br0"])
    assert indexes(got["br0"]) == {0}
    cloud.update_port("alice", PortChanges(fixed_ips=(ip_address(alice.ipv4), ip_address("10.77.0.77"))))
    assert ping(lab, "alice", "bob")


def test_block_inside_a_blocked_network_is_said_and_works(cl: CloudLab) -> None:
    lab, cloud = cl.lab, cl.cloud
    for guest in ("alice", "bob"):
        cl.port(guest, ["default"])
    cloud.block(ip_network("203.0.113.0/24"))
    inner = cloud.block(ip_network("203.0.113.128/25"))
    assert any("already covered" in w for w in inner.warnings)
    cloud.unblock("203.0.113.0/24")
    assert len(cloud.list_blocks()) == 1
    assert ping(lab, "alice", "bob")
