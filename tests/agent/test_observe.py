"""What frames on a learning port say about the guest's address (libvirt's learner and DHCP snooping)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address

from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import ARP, Ether

from guestwall.agent.observe import Observation, Watch, observe
from guestwall.agent.snoop import bpf_program
from guestwall.instantiate.learning import LearningMode
from guestwall.model.mac import MacAddress

MAC = "52:54:00:00:00:04"
OTHER = "52:54:00:00:00:09"
SERVER_MAC = "02:47:57:00:00:01"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
ANY = Watch(MacAddress(0x525400000004), LearningMode.ANY)
DHCP_ANY_SERVER = Watch(MacAddress(0x525400000004), LearningMode.DHCP)
DHCP_TRUSTED = Watch(MacAddress(0x525400000004), LearningMode.DHCP, (IPv4Address("10.77.0.1"),))


def ack(yiaddr: str = "10.77.0.120", server: str = "10.77.0.1", dst: str = MAC, chaddr: str = MAC, lease: int | None = 120,
        kind: str = "ack") -> bytes:  # fmt: skip
    options: list[object] = [("message-type", kind), ("server_id", server)]
    if lease is not None:
        options.append(("lease_time", lease))
    return bytes(
        Ether(src=SERVER_MAC, dst=dst)
        / IP(src=server, dst="255.255.255.255")
        / UDP(sport=67, dport=68)
        / BOOTP(op=2, yiaddr=yiaddr, chaddr=bytes.fromhex(chaddr.replace(":", "")))
        / DHCP(options=[*options, "end"])
    )


def client(kind: str, ciaddr: str = "0.0.0.0", requested: str | None = None, src: str = MAC) -> bytes:
    options: list[object] = [("message-type", kind)]
    if requested:
        options.append(("requested_addr", requested))
    return bytes(
        Ether(src=src, dst="ff:ff:ff:ff:ff:ff")
        / IP(src=ciaddr, dst="10.77.0.1")
        / UDP(sport=68, dport=67)
        / BOOTP(op=1, ciaddr=ciaddr, chaddr=bytes.fromhex(src.replace(":", "")))
        / DHCP(options=[*options, "end"])
    )


def from_guest(src_ip: str, src: str = MAC) -> bytes:
    return bytes(Ether(src=src, dst=OTHER) / IP(src=src_ip, dst="10.77.0.10") / UDP(sport=1, dport=2))


def arp(op: int, psrc: str, pdst: str, src: str = MAC) -> bytes:
    return bytes(Ether(src=src, dst="ff:ff:ff:ff:ff:ff") / ARP(op=op, hwsrc=src, psrc=psrc, pdst=pdst))


def learn(ip: str, source: str, expires: datetime | None = None) -> list[Observation]:
    return [Observation("learn", IPv4Address(ip), source, expires)]


def test_any_first_ipv4_source() -> None:
    assert observe(from_guest("10.77.0.13"), False, ANY, NOW) == learn("10.77.0.13", "ipv4")


def test_any_skips_unusable_sources_and_other_macs() -> None:
    for ip in ("0.0.0.0", "224.0.0.1", "255.255.255.255", "240.0.0.1"):
        assert observe(from_guest(ip), False, ANY, NOW) == []
    assert observe(from_guest("10.77.0.13", src=OTHER), False, ANY, NOW) == []
    assert observe(from_guest("10.77.0.13"), True, ANY, NOW) == []  # not sent by the guest


def test_any_arp() -> None:
    assert observe(arp(2, "10.77.0.13", "10.77.0.10"), False, ANY, NOW) == learn("10.77.0.13", "arp")
    # a request names the address looked for; its sender is the guest's own (libvirt takes the target)
    assert observe(arp(1, "10.77.0.13", "10.77.0.10"), False, ANY, NOW) == learn("10.77.0.13", "arp")
    # an ARP probe (RFC 5227) has no sender address yet: the target is the address the guest wants
    assert observe(arp(1, "0.0.0.0", "10.77.0.13"), False, ANY, NOW) == learn("10.77.0.13", "arp")
    assert observe(arp(2, "10.77.0.13", "10.77.0.10", src=OTHER), False, ANY, NOW) == []


def test_any_dhcp_ack_to_the_guest_without_expiry() -> None:
    assert observe(ack(), True, ANY, NOW) == learn("10.77.0.120", "dhcp")
    assert observe(ack(dst="ff:ff:ff:ff:ff:ff"), True, ANY, NOW) == learn("10.77.0.120", "dhcp")
    assert observe(ack(), False, ANY, NOW) == []  # the guest sending itself an ACK proves nothing
    assert observe(ack(chaddr=OTHER), True, ANY, NOW) == []
    assert observe(ack(dst=OTHER), True, ANY, NOW) == []
    assert observe(ack(kind="offer"), True, ANY, NOW) == []


def test_dhcp_leases_expire() -> None:
    assert observe(ack(lease=120), True, DHCP_ANY_SERVER, NOW) == learn(
        "10.77.0.120", "dhcp", NOW + timedelta(seconds=120)
    )
    assert observe(ack(lease=0xFFFFFFFF), True, DHCP_ANY_SERVER, NOW) == learn("10.77.0.120", "dhcp")
    assert observe(ack(lease=None), True, DHCP_ANY_SERVER, NOW) == learn("10.77.0.120", "dhcp")


def test_dhcp_trusts_only_its_servers() -> None:
    assert observe(ack(), True, DHCP_TRUSTED, NOW) == learn(
        "10.77.0.120", "dhcp", NOW + timedelta(seconds=120)
    )
    assert observe(ack(server="10.77.0.14"), True, DHCP_TRUSTED, NOW) == []
    assert observe(ack(server="10.77.0.14"), True, DHCP_ANY_SERVER, NOW) != []


def test_dhcp_ignores_the_guests_own_traffic_except_release_and_decline() -> None:
    assert observe(from_guest("10.77.0.13"), False, DHCP_TRUSTED, NOW) == []
    assert observe(arp(2, "10.77.0.13", "10.77.0.10"), False, DHCP_TRUSTED, NOW) == []
    release = client("release", ciaddr="10.77.0.120")
    assert observe(release, False, DHCP_TRUSTED, NOW) == [
        Observation("forget", IPv4Address("10.77.0.120"), "dhcp")
    ]
    decline = client("decline", requested="10.77.0.121")
    assert observe(decline, False, DHCP_TRUSTED, NOW) == [
        Observation("forget", IPv4Address("10.77.0.121"), "dhcp")
    ]
    assert observe(client("release", ciaddr="10.77.0.120", src=OTHER), False, DHCP_TRUSTED, NOW) == []
    assert observe(client("discover"), False, DHCP_TRUSTED, NOW) == []


def test_truncated_and_foreign_frames() -> None:
    for frame in (
        b"",
        b"\x00" * 13,
        ack()[:60],
        from_guest("10.77.0.13")[:20],
        arp(2, "10.77.0.13", "10.77.0.10")[:30],
    ):
        assert observe(frame, False, ANY, NOW) == []
        assert observe(frame, True, DHCP_ANY_SERVER, NOW) == []


def test_bpf_programs_are_well_formed() -> None:
    for mode in (LearningMode.ANY, LearningMode.DHCP):
        program = bpf_program(mode)
        assert program[-1] == (0x06, 0, 0, 0) and program[-2][0] == 0x06
        for pc, (op, jt, jf, _k) in enumerate(program):
            if op in (0x15, 0x45):
                assert pc + 1 + jt < len(program) and pc + 1 + jf < len(program)
