"""clean-traffic bound to every guest of a lab (IP given as parameter): the user stories with forged frames.

Eve (vnet4) attacks; frames that get through are seen on the bridge (br0, promiscuous) or at the victims.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from gw import Guestwall

from guestwall.lab import Lab
from guestwall.lab.traffic import arp_cache, fdb_port, frames, ping, probe
from netns_fixtures import needs_netns

pytestmark = needs_netns

FORGED_MAC = "52:54:00:99:99:99"


@pytest.fixture(scope="module")
def gw(lab_module: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Guestwall]:
    work = tmp_path_factory.mktemp("clean")
    g = Guestwall(lab_module, work / "gw.db", work)
    g.bind(list(lab_module.guests), "clean-traffic")
    yield g


def arrived(got: dict[str, list[object]]) -> dict[str, int]:
    return {where: len(frames_) for where, frames_ in got.items() if frames_}


def test_eve_takes_alices_ip(gw: Guestwall) -> None:
    lab = gw.lab
    eve, alice, bob = lab["eve"], lab["alice"], lab["bob"]
    forged = [
        frames.udp4(eve.mac, bob.mac, ip_src=alice.ipv4, ip_dst=bob.ipv4),
        frames.icmp4(eve.mac, bob.mac, ip_src=alice.ipv4, ip_dst=bob.ipv4),
        frames.tcp4(eve.mac, bob.mac, ip_src=alice.ipv4, ip_dst=bob.ipv4, dport=22),
        frames.udp4(eve.mac, "ff:ff:ff:ff:ff:ff", ip_src=alice.ipv4, ip_dst="10.77.0.255"),
    ]
    got = probe(lab, "eve", forged, receivers=["br0", "alice", "bob", "carol"])
    assert arrived(got) == {}


def test_eve_takes_alices_mac_and_ip(gw: Guestwall) -> None:
    lab = gw.lab
    alice, bob = lab["alice"], lab["bob"]
    forged = [
        frames.udp4(alice.mac, bob.mac, ip_src=alice.ipv4, ip_dst=bob.ipv4),
        frames.arp(alice.mac, op="is-at", psrc=alice.ipv4, pdst=bob.ipv4, dst=bob.mac),
        frames.eth(alice.mac, bob.mac, ethertype=0x0800),
    ]
    got = probe(lab, "eve", forged, receivers=["br0", "alice", "bob"])
    assert arrived(got) == {}


@pytest.mark.parametrize("sender_mac", ["own", "forged"])
def test_eve_arp_replies_claiming_alices_ip_change_no_cache(gw: Guestwall, sender_mac: str) -> None:
    lab = gw.lab
    eve, alice, bob, carol = lab["eve"], lab["alice"], lab["bob"], lab["carol"]
    assert ping(lab, "bob", alice.ipv4) and ping(lab, "carol", alice.ipv4)
    assert arp_cache(lab, "bob")[alice.ipv4] == alice.mac
    mac = eve.mac if sender_mac == "own" else FORGED_MAC
    poison = [
        frames.arp(mac, op="is-at", psrc=alice.ipv4, pdst=bob.ipv4, hwsrc=mac, dst=bob.mac),
        frames.arp(mac, op="is-at", psrc=alice.ipv4, pdst=carol.ipv4, hwsrc=mac, dst=carol.mac),
        frames.arp(mac, op="who-has", psrc=alice.ipv4, pdst=carol.ipv4, hwsrc=mac),  # gratuitous-style
    ]
    got = probe(lab, "eve", poison, receivers=["br0", "bob", "carol"])
    assert arrived(got) == {}
    time.sleep(0.1)
    assert arp_cache(lab, "bob").get(alice.ipv4) == alice.mac
    assert arp_cache(lab, "carol").get(alice.ipv4) == alice.mac


def test_tagged_unknown_and_fdb_poisoning_frames_are_dropped(gw: Guestwall) -> None:
    lab = gw.lab
    eve, alice, bob = lab["eve"], lab["alice"], lab["bob"]
    assert ping(lab, "alice", bob.ipv4)  # the bridge learns alice's MAC on her port
    assert fdb_port(lab, alice.mac) == alice.portdev
    forged = [
        frames.udp4(eve.mac, bob.mac, ip_src=alice.ipv4, ip_dst=bob.ipv4, vlan=5),  # 802.1Q, forged IP
        frames.udp4(eve.mac, bob.mac, ip_src=eve.ipv4, ip_dst=bob.ipv4, vlan=5),  # 802.1Q, own IP
        frames.eth(eve.mac, bob.mac, ethertype=0x88B5),  # unknown ethertype
        frames.eth(alice.mac, "ff:ff:ff:ff:ff:ff", ethertype=0x0806),  # would move alice's MAC to vnet4
        frames.udp4(alice.mac, bob.mac, ip_src=eve.ipv4, ip_dst=bob.ipv4),
        frames.ip6(eve.mac, bob.mac, ip_src=eve.ipv6, ip_dst=bob.ipv6),  # clean-traffic has no IPv6
    ]
    got = probe(lab, "eve", forged, receivers=["br0", "bob"])
    assert arrived(got) == {}
    assert fdb_port(lab, alice.mac) == alice.portdev


def test_legitimate_traffic_passes(gw: Guestwall) -> None:
    lab = gw.lab
    eve, alice = lab["eve"], lab["alice"]
    legit = [
        frames.dhcp_discover(eve.mac),  # 0: from 0.0.0.0 to 255.255.255.255, udp 68 -> 67
        frames.arp(eve.mac, op="who-has", psrc=eve.ipv4, pdst=alice.ipv4),  # 1: own addresses
        frames.arp(eve.mac, op="is-at", psrc=eve.ipv4, pdst=alice.ipv4, dst=alice.mac),  # 2
        frames.rarp(eve.mac),  # 3: qemu's announce after migration
        frames.udp4(eve.mac, alice.mac, ip_src=eve.ipv4, ip_dst=alice.ipv4),  # 4
    ]
    got = probe(lab, "eve", legit, receivers=["br0", "alice"])
    assert {f.index for f in got["br0"]} == {0, 1, 2, 3, 4}  # all leave eve's port
    assert sorted(f.index for f in got["alice"]) == [0, 1, 2, 4]  # alice's own filter drops others' RARP
    assert ping(lab, "eve", alice.ipv4)
    assert ping(lab, "alice", eve.ipv4)


def test_port_without_binding_is_unaffected(gw: Guestwall, tmp_path: Path) -> None:
    """Rules match port names: a lab port bound here filters; the host's other rules are not touched."""
    out = gw.nft("list", "tables")
    assert set(out.split("\n")) >= {"table bridge guestwall", "table inet guestwall"}
