"""What a frame on a learning port says about the guest's IPv4 address (pure: bytes in, observations out).

As libvirt's learner (nwfilter_learnipaddr.c) for CTRL_IP_LEARNING=any, the first suitable packet wins:
an IPv4 packet from the guest's MAC gives its source, an ARP reply its sender address, a DHCP ACK sent to
the guest its ``yiaddr``. One deliberate difference: libvirt takes the *target* address of every ARP
request; we take the sender address, and the target only for an ARP probe (sender 0.0.0.0, RFC 5227),
because an ordinary request names the address the guest looks for, not its own.
As libvirt's DHCP snooping (nwfilter_dhcpsnoop.c) for CTRL_IP_LEARNING=dhcp: every ACK to the guest from a
trusted server (``DHCPSERVER``, or any server when none is given) is a lease until its lease time runs
out; the guest's RELEASE or DECLINE ends one. Replies count only on their way *to* the guest (frames the
guest sends itself could be forged).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime, timedelta
from ipaddress import IPv4Address

from guestwall.instantiate.learning import LearningMode
from guestwall.model.mac import MacAddress

ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
BROADCAST = b"\xff" * 6
DHCP_COOKIE = b"\x63\x82\x53\x63"
BOOTREQUEST, BOOTREPLY = 1, 2
DHCPDECLINE, DHCPACK, DHCPRELEASE = 4, 5, 7
OPT_REQUESTED_IP, OPT_LEASE_TIME, OPT_MESSAGE_TYPE = 50, 51, 53
INFINITE_LEASE = 0xFFFFFFFF
_MULTICAST_AND_ABOVE = IPv4Address("224.0.0.0")


@dataclass(frozen=True)
class Observation:
    kind: str  # "learn" or "forget"
    ip: IPv4Address
    source: str  # "ipv4", "arp", "dhcp"
    expires_at: datetime | None = None


@dataclass(frozen=True)
class Watch:
    """What the observer looks for on one port."""

    mac: MacAddress
    mode: LearningMode
    servers: tuple[IPv4Address, ...] = ()


@dataclass(frozen=True)
class Dhcp:
    op: int
    message_type: int | None
    chaddr: bytes
    ciaddr: IPv4Address
    yiaddr: IPv4Address
    lease_time: int | None
    requested: IPv4Address | None


@dataclass(frozen=True)
class _IPv4:
    src: IPv4Address
    dst: IPv4Address
    proto: int
    payload: bytes
    first_fragment: bool


def usable(ip: IPv4Address) -> bool:
    """An address a guest can own (libvirt skips 0.0.0.0 and everything from 224.0.0.0 up)."""
    return ip != IPv4Address(0) and ip < _MULTICAST_AND_ABOVE


def parse_ipv4(packet: bytes) -> _IPv4 | None:
    if len(packet) < 20 or packet[0] >> 4 != 4:
        return None
    ihl = (packet[0] & 0x0F) * 4
    total = struct.unpack_from("!H", packet, 2)[0]
    if ihl < 20 or total < ihl or len(packet) < ihl:
        return None
    frag = struct.unpack_from("!H", packet, 6)[0]
    return _IPv4(
        IPv4Address(packet[12:16]),
        IPv4Address(packet[16:20]),
        packet[9],
        packet[ihl : min(total, len(packet))],
        frag & 0x1FFF == 0,
    )


def parse_dhcp(ip: _IPv4, sport: int, dport: int) -> Dhcp | None:
    """The DHCP message in an IPv4 packet going ``sport`` -> ``dport`` over UDP, if it is one."""
    if ip.proto != 17 or not ip.first_fragment or len(ip.payload) < 8:
        return None
    got_sport, got_dport = struct.unpack_from("!HH", ip.payload, 0)
    if (got_sport, got_dport) != (sport, dport):
        return None
    bootp = ip.payload[8:]
    if len(bootp) < 240 or bootp[236:240] != DHCP_COOKIE:
        return None
    options = _options(bootp[240:])
    mtype = options.get(OPT_MESSAGE_TYPE)
    lease = options.get(OPT_LEASE_TIME)
    requested = options.get(OPT_REQUESTED_IP)
    return Dhcp(
        op=bootp[0],
        message_type=mtype[0] if mtype else None,
        chaddr=bootp[28:34],
        ciaddr=IPv4Address(bootp[12:16]),
        yiaddr=IPv4Address(bootp[16:20]),
        lease_time=struct.unpack("!I", lease)[0] if lease is not None and len(lease) == 4 else None,
        requested=IPv4Address(requested) if requested is not None and len(requested) == 4 else None,
    )


def _options(data: bytes) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    i = 0
    while i < len(data):
        code = data[i]
        if code == 0:  # pad
            i += 1
            continue
        if code == 255 or i + 1 >= len(data):  # end
            break
        length = data[i + 1]
        out.setdefault(code, data[i + 2 : i + 2 + length])
        i += 2 + length
    return out


def observe(frame: bytes, outgoing: bool, watch: Watch, now: datetime) -> list[Observation]:
    """What ``frame`` (untagged Ethernet) says; ``outgoing``: it is on its way to the guest."""
    if len(frame) < 14:
        return []
    dst, src = frame[0:6], frame[6:12]
    ethertype = struct.unpack_from("!H", frame, 12)[0]
    mac = watch.mac.packed
    body = frame[14:]
    if outgoing:
        if ethertype != ETH_P_IP or dst not in (mac, BROADCAST):
            return []
        ip = parse_ipv4(body)
        dhcp = parse_dhcp(ip, 67, 68) if ip is not None else None
        if ip is None or dhcp is None or dhcp.op != BOOTREPLY or dhcp.message_type != DHCPACK:
            return []
        if dhcp.chaddr != mac or not usable(dhcp.yiaddr):
            return []
        if watch.mode is LearningMode.DHCP and watch.servers and ip.src not in watch.servers:
            return []
        expires = None
        if (
            watch.mode is LearningMode.DHCP
            and dhcp.lease_time is not None
            and dhcp.lease_time != INFINITE_LEASE
        ):
            expires = now + timedelta(seconds=dhcp.lease_time)
        return [Observation("learn", dhcp.yiaddr, "dhcp", expires)]
    if src != mac:
        return []
    if watch.mode is LearningMode.DHCP:
        return _client_message(body, mac) if ethertype == ETH_P_IP else []
    if ethertype == ETH_P_IP:
        ip = parse_ipv4(body)
        if ip is not None and usable(ip.src):
            return [Observation("learn", ip.src, "ipv4")]
    elif ethertype == ETH_P_ARP and len(body) >= 28:
        htype, ptype, hlen, plen, op = struct.unpack_from("!HHBBH", body, 0)
        if (htype, ptype, hlen, plen) != (1, ETH_P_IP, 6, 4):
            return []
        sender, target = IPv4Address(body[14:18]), IPv4Address(body[24:28])
        learned = sender if op == 2 else (target if op == 1 and sender == IPv4Address(0) else sender)
        if op in (1, 2) and usable(learned):
            return [Observation("learn", learned, "arp")]
    return []


def _client_message(body: bytes, mac: bytes) -> list[Observation]:
    """DHCP RELEASE or DECLINE from the guest: the lease it names ends."""
    ip = parse_ipv4(body)
    dhcp = parse_dhcp(ip, 68, 67) if ip is not None else None
    if dhcp is None or dhcp.op != BOOTREQUEST or dhcp.chaddr != mac:
        return []
    if dhcp.message_type == DHCPRELEASE and usable(dhcp.ciaddr):
        return [Observation("forget", dhcp.ciaddr, "dhcp")]
    if dhcp.message_type == DHCPDECLINE and dhcp.requested is not None and usable(dhcp.requested):
        return [Observation("forget", dhcp.requested, "dhcp")]
    return []
