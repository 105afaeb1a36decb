"""Packet sockets on lab devices: send raw frames from a guest's eth0, capture what arrives on another device.

Sockets are opened inside the device's namespace (``guestwall.lab.netns.in_netns``) and then used from the
calling thread, so no child process or scapy import is needed to put frames on the wire.
"""

from __future__ import annotations

import select
import socket
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from guestwall.errors import LabError
from guestwall.lab.netns import in_netns
from guestwall.lab.spec import GUEST_DEV, Lab

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
PACKET_AUXDATA = 8
TP_STATUS_VLAN_VALID = 0x10
TP_STATUS_VLAN_TPID_VALID = 0x40
_AUXDATA = struct.Struct("=IIIHHHH")  # struct tpacket_auxdata
MAX_FRAME = 65536


@dataclass(frozen=True)
class Endpoint:
    """A device in the lab: its namespace and interface name; ``label`` is how results are keyed."""

    label: str
    netns: str
    ifname: str


def endpoint(lab: Lab, name: str) -> Endpoint:
    """A guest name means that guest's eth0; ``br0`` or ``vnetN`` means that device in the host namespace."""
    if name == lab.bridge or (name.startswith("vnet") and name[4:].isdigit()):
        return Endpoint(name, lab.host_netns, name)
    guest = lab.guest(name)
    return Endpoint(name, guest.netns, GUEST_DEV)


def open_sender(ep: Endpoint) -> socket.socket:
    """A raw packet socket that transmits frames, byte for byte, out of ``ep``."""

    def make() -> socket.socket:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)  # protocol 0: receives nothing
        try:
            sock.bind((ep.ifname, 0))
        except OSError:
            sock.close()
            raise
        return sock

    return _in(ep, make)


def open_capture(ep: Endpoint, promisc: bool = False) -> socket.socket:
    """A non-blocking packet socket receiving every frame that arrives on ``ep`` from now on.

    With ``promisc`` the device sees frames not addressed to it (for br0: every frame the bridge forwards).
    """

    def make() -> socket.socket:
        # Created with protocol 0 and bound with ETH_P_ALL, so it never queues frames from other devices.
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        try:
            sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            sock.bind((ep.ifname, ETH_P_ALL))
            if promisc:
                mreq = struct.pack("iHH8s", socket.if_nametoindex(ep.ifname), PACKET_MR_PROMISC, 0, b"")
                sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        return sock

    return _in(ep, make)


def _in(ep: Endpoint, make: Callable[[], socket.socket]) -> socket.socket:
    try:
        return in_netns(ep.netns, make)
    except OSError as e:
        raise LabError(
            f"cannot open a packet socket on {ep.ifname} in {ep.netns}: {e.strerror or e}"
        ) from None


def receive_all(sock: socket.socket) -> list[bytes]:
    """Every incoming frame queued on a capture socket, with any 802.1Q tag the kernel took off put back."""
    frames: list[bytes] = []
    while True:
        try:
            data, ancdata, _flags, addr = sock.recvmsg(MAX_FRAME, socket.CMSG_SPACE(_AUXDATA.size))
        except BlockingIOError:
            return frames
        if addr[2] == socket.PACKET_OUTGOING:
            continue
        frames.append(_restore_vlan(data, ancdata))


def _restore_vlan(data: bytes, ancdata: list[tuple[int, int, bytes]]) -> bytes:
    # The receive path moves a VLAN tag into skb metadata; packet sockets report it only as auxdata.
    for level, kind, raw in ancdata:
        if level != SOL_PACKET or kind != PACKET_AUXDATA or len(raw) < _AUXDATA.size:
            continue
        status, _len, _snaplen, _mac, _net, tci, tpid = _AUXDATA.unpack_from(raw)
        if status & TP_STATUS_VLAN_VALID or tci:
            tpid = tpid if status & TP_STATUS_VLAN_TPID_VALID else 0x8100
            return data[:12] + struct.pack("!HH", tpid, tci) + data[12:]
    return data


def collect(
    socks: dict[str, socket.socket],
    timeout: float,
    done: Callable[[dict[str, list[bytes]]], bool] | None = None,
) -> dict[str, list[bytes]]:
    """Read the capture sockets for ``timeout`` seconds, or until ``done(frames)``; frames by label."""
    got: dict[str, list[bytes]] = {label: [] for label in socks}
    by_fd = {sock.fileno(): label for label, sock in socks.items()}
    poller = select.poll()
    for fd in by_fd:
        poller.register(fd, select.POLLIN)
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        for fd, _event in poller.poll(left * 1000):
            label = by_fd[fd]
            got[label].extend(receive_all(socks[label]))
        if done is not None and done(got):
            break
    for label, sock in socks.items():  # whatever arrived in the last instant
        got[label].extend(receive_all(sock))
    return got


def send_frames(sock: socket.socket, frames: Sequence[bytes]) -> None:
    for frame in frames:
        try:
            sock.send(frame)
        except OSError as e:
            raise LabError(f"cannot send a {len(frame)}-byte frame: {e.strerror or e}") from None
