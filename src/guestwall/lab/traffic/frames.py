"""Builders for the frames guests forge in tests: any MAC, any ethertype, 802.1Q tags, ARP/RARP, IPv4/IPv6
with any source, UDP/TCP/ICMP, DHCP discover. Each returns a scapy packet; lengths and checksums are left
for scapy to compute when the frame is sent, so ``probe`` can put its marker into the payload.
"""

from __future__ import annotations

from typing import Any

from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.packet import Raw

BROADCAST = "ff:ff:ff:ff:ff:ff"
ETH_P_ARP = 0x0806
ETH_P_RARP = 0x8035
ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD

Packet = Any  # scapy packets are untyped


def eth(src: str, dst: str = BROADCAST, *, vlan: int | None = None, ethertype: int | None = None) -> Packet:
    """An Ethernet header, optionally 802.1Q-tagged; with ``ethertype`` a complete frame of that type whose
    payload is just the probe marker (for raw or unknown ethertypes)."""
    frame = Ether(src=src, dst=dst)
    if vlan is not None:
        frame = frame / Dot1Q(vlan=vlan)
    if ethertype is not None:
        if vlan is not None:
            frame[Dot1Q].type = ethertype
        else:
            frame.type = ethertype
        frame = frame / Raw(b"")
    return frame


def arp(
    src: str,
    *,
    op: str = "who-has",
    psrc: str,
    pdst: str,
    hwsrc: str | None = None,
    hwdst: str = "00:00:00:00:00:00",
    dst: str = BROADCAST,
    vlan: int | None = None,
) -> Packet:
    """An ARP request (``op="who-has"``) or reply (``"is-at"``); sender MAC ``hwsrc`` defaults to ``src``."""
    return eth(src, dst, vlan=vlan) / ARP(op=op, hwsrc=hwsrc or src, psrc=psrc, hwdst=hwdst, pdst=pdst)


def rarp(src: str, *, target: str | None = None, dst: str = BROADCAST, vlan: int | None = None) -> Packet:
    """A RARP request ("who am I", opcode 3) for ``target`` (default: the sender's own MAC)."""
    body = ARP(op=3, hwsrc=src, psrc="0.0.0.0", hwdst=target or src, pdst="0.0.0.0")
    frame = eth(src, dst, vlan=vlan) / body
    if vlan is not None:
        frame[Dot1Q].type = ETH_P_RARP
    else:
        frame.type = ETH_P_RARP
    return frame


def ip4(src: str, dst: str, *, ip_src: str, ip_dst: str, vlan: int | None = None, **ip: Any) -> Packet:
    return eth(src, dst, vlan=vlan) / IP(src=ip_src, dst=ip_dst, **ip)


def ip6(src: str, dst: str, *, ip_src: str, ip_dst: str, vlan: int | None = None, **ip: Any) -> Packet:
    return eth(src, dst, vlan=vlan) / IPv6(src=ip_src, dst=ip_dst, **ip)


def udp4(src: str, dst: str, *, ip_src: str, ip_dst: str, sport: int = 40000, dport: int = 40000,
         vlan: int | None = None) -> Packet:  # fmt: skip
    return ip4(src, dst, ip_src=ip_src, ip_dst=ip_dst, vlan=vlan) / UDP(sport=sport, dport=dport)


def tcp4(src: str, dst: str, *, ip_src: str, ip_dst: str, sport: int = 40000, dport: int = 80,
         flags: str = "S", vlan: int | None = None) -> Packet:  # fmt: skip
    return ip4(src, dst, ip_src=ip_src, ip_dst=ip_dst, vlan=vlan) / TCP(sport=sport, dport=dport, flags=flags)


def icmp4(src: str, dst: str, *, ip_src: str, ip_dst: str, vlan: int | None = None) -> Packet:
    """An ICMP echo request."""
    return ip4(src, dst, ip_src=ip_src, ip_dst=ip_dst, vlan=vlan) / ICMP(type=8, id=0x4757, seq=1)


def udp6(src: str, dst: str, *, ip_src: str, ip_dst: str, sport: int = 40000, dport: int = 40000,
         vlan: int | None = None) -> Packet:  # fmt: skip
    return ip6(src, dst, ip_src=ip_src, ip_dst=ip_dst, vlan=vlan) / UDP(sport=sport, dport=dport)


def icmp6(src: str, dst: str, *, ip_src: str, ip_dst: str, vlan: int | None = None) -> Packet:
    """An ICMPv6 echo request."""
    return ip6(src, dst, ip_src=ip_src, ip_dst=ip_dst, vlan=vlan) / ICMPv6EchoRequest(id=0x4757, seq=1)


def dhcp_discover(src: str, *, chaddr: str | None = None, vlan: int | None = None) -> Packet:
    """A DHCPDISCOVER broadcast from 0.0.0.0:68 to 255.255.255.255:67; client MAC ``chaddr`` or ``src``."""
    client = bytes.fromhex((chaddr or src).replace(":", ""))
    return (
        ip4(src, BROADCAST, ip_src="0.0.0.0", ip_dst="255.255.255.255", vlan=vlan)
        / UDP(sport=68, dport=67)
        / BOOTP(op=1, chaddr=client, xid=0x47570001, flags=0x8000)
        / DHCP(options=[("message-type", "discover"), "end"])
    )
