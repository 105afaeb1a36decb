"""Probe markers and frame builders, without a lab: a mark survives serialisation inside the payload."""

from __future__ import annotations

import struct

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import ARP, Dot1Q, Ether

from guestwall.lab.traffic import frames
from guestwall.lab.traffic.capture import PACKET_AUXDATA, SOL_PACKET, TP_STATUS_VLAN_VALID, _restore_vlan
from guestwall.lab.traffic.probe import find_marks, marker, stamp

TOKEN = b"\x01\x02\x03\x04\x05\x06\x07\x08"
A, B = "52:54:00:00:00:01", "52:54:00:00:00:02"


def test_mark_sits_inside_ip_payload_and_lengths_cover_it() -> None:
    data = stamp(frames.udp4(A, B, ip_src="6.6.6.6", ip_dst="10.77.0.11"), marker(TOKEN, 7))
    pkt = Ether(data)
    assert pkt[IP].len == len(data) - 14  # br_netfilter trims IPv4 frames to this length
    assert bytes(pkt[UDP].payload).endswith(marker(TOKEN, 7))
    assert find_marks(data, TOKEN) == [7]
    assert find_marks(data, b"\0" * 8) == []


def test_each_builder_carries_the_mark() -> None:
    built = [
        frames.eth(A, ethertype=0x88B5),
        frames.eth(A, vlan=42, ethertype=0x0800),
        frames.arp(A, op="is-at", psrc="10.77.0.11", pdst="10.77.0.10", dst=B),
        frames.rarp(A),
        frames.tcp4(A, B, ip_src="10.77.0.10", ip_dst="10.77.0.11"),
        frames.icmp4(A, B, ip_src="10.77.0.10", ip_dst="10.77.0.11"),
        frames.udp6(A, B, ip_src="fd77::99", ip_dst="fd77::11"),
        frames.icmp6(A, B, ip_src="fd77::10", ip_dst="fd77::11"),
        frames.dhcp_discover(A),
        b"\xff" * 6 + bytes.fromhex("525400000001") + b"\x12\x34",
    ]
    for i, frame in enumerate(built):
        assert find_marks(stamp(frame, marker(TOKEN, i)), TOKEN) == [i], frame


def test_vlan_and_arp_fields() -> None:
    tagged = Ether(bytes(frames.udp4(A, B, ip_src="1.1.1.1", ip_dst="2.2.2.2", vlan=9)))
    assert tagged[Dot1Q].vlan == 9 and tagged[IP].src == "1.1.1.1"
    reply = Ether(bytes(frames.arp(A, op="is-at", psrc="10.77.0.11", pdst="10.77.0.10", hwsrc=B)))
    assert (reply.src, reply[ARP].hwsrc, reply[ARP].op) == (A, B, 2)
    assert Ether(bytes(frames.rarp(A))).type == 0x8035


def test_restore_vlan_from_auxdata() -> None:
    untagged = bytes.fromhex("ffffffffffff525400000001") + b"\x08\x00payload"
    aux = struct.pack("=IIIHHHH", TP_STATUS_VLAN_VALID, 0, 0, 0, 0, 9, 0x8100)
    restored = _restore_vlan(untagged, [(SOL_PACKET, PACKET_AUXDATA, aux)])
    assert Ether(restored)[Dot1Q].vlan == 9
    assert _restore_vlan(untagged, []) == untagged
