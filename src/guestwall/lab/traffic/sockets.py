"""Ordinary traffic between guests through plain sockets opened inside their namespaces: ping (raw ICMP;
this machine has no ping binary), a tiny TCP server and TCP connect, and a UDP datagram exchange.

A target is a guest name (its IPv4 or IPv6 address, by ``family``) or a literal IP address.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Literal

from guestwall.errors import LabError
from guestwall.lab.netns import netns_socket
from guestwall.lab.spec import Lab

Family = Literal[4, 6]
GREETING = b"guestwall-lab\n"


def address(lab: Lab, target: str, family: Family = 4) -> str:
    """The IP address ``target`` stands for: a guest's address of ``family``, or ``target`` itself."""
    try:
        return str(ipaddress.ip_address(target))
    except ValueError:
        guest = lab.guest(target)
        return guest.ipv4 if family == 4 else guest.ipv6


def _af(addr: str) -> int:
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return int(~total & 0xFFFF)


def ping(
    lab: Lab, src: str, target: str, *, family: Family = 4, count: int = 1, timeout: float = 1.0
) -> bool:
    """True if ``src`` gets an echo reply from ``target`` for at least one of ``count`` echo requests,
    each waited for up to ``timeout`` seconds."""
    dst = address(lab, target, family)
    v6 = _af(dst) == socket.AF_INET6
    proto = socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP
    sock = netns_socket(lab.guest(src).netns, _af(dst), socket.SOCK_RAW, proto)
    ident = os.getpid() & 0xFFFF
    try:
        for seq in range(1, count + 1):
            payload = os.urandom(16)
            if v6:  # the kernel fills in the ICMPv6 checksum
                packet = struct.pack("!BBHHH", 128, 0, 0, ident, seq) + payload
            else:
                header = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
                packet = struct.pack("!BBHHH", 8, 0, _checksum(header + payload), ident, seq) + payload
            sock.sendto(packet, (dst, 0))
            if _await_echo_reply(sock, v6, ident, seq, payload, timeout):
                return True
    except OSError as e:
        if e.errno in (101, 113):  # network / host unreachable
            return False
        raise LabError(f"ping from {src} to {dst} failed: {e.strerror or e}") from None
    finally:
        sock.close()
    return False


def _await_echo_reply(
    sock: socket.socket, v6: bool, ident: int, seq: int, payload: bytes, timeout: float
) -> bool:
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            data = sock.recv(65535)
        except TimeoutError:
            return False
        icmp = data if v6 else data[(data[0] & 0x0F) * 4 :]  # raw IPv4 sockets include the IP header
        if len(icmp) < 8:
            continue
        kind, _code, _sum, rid, rseq = struct.unpack("!BBHHH", icmp[:8])
        if kind == (129 if v6 else 0) and (rid, rseq) == (ident, seq) and icmp[8:] == payload:
            return True
    return False


@dataclass
class TcpServer:
    """A listener in a guest that greets every client with ``GREETING`` and records the client addresses."""

    guest: str
    port: int
    peers: list[str] = field(default_factory=list)
    _sock: socket.socket | None = None
    _thread: threading.Thread | None = None

    def serve(self, sock: socket.socket) -> None:
        self._sock = sock
        self._thread = threading.Thread(target=self._accept_loop, name=f"tcp-{self.guest}", daemon=True)
        self._thread.start()

    def _accept_loop(self) -> None:
        assert self._sock is not None
        while True:
            try:
                conn, peer = self._sock.accept()
            except OSError:  # closed
                return
            with conn:
                self.peers.append(str(ipaddress.ip_address(peer[0].removeprefix("::ffff:"))))
                with suppress(OSError):
                    conn.sendall(GREETING)

    def close(self) -> None:
        if self._sock is not None:
            with suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)  # wakes up accept()
            self._sock.close()
        if self._thread is not None:
            self._thread.join(2)


@contextmanager
def tcp_server(lab: Lab, guest: str, port: int) -> Iterator[TcpServer]:
    """Listen on ``port`` (IPv4 and IPv6) in ``guest`` for the duration of the ``with`` block."""
    sock = netns_socket(lab.guest(guest).netns, socket.AF_INET6, socket.SOCK_STREAM)
    server = TcpServer(guest, port)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(("::", port))
        sock.listen(16)
    except OSError as e:
        sock.close()
        raise LabError(f"cannot listen on port {port} in {guest}: {e.strerror or e}") from None
    server.serve(sock)
    try:
        yield server
    finally:
        server.close()


def tcp_connect(
    lab: Lab, src: str, target: str, port: int, *, family: Family = 4, timeout: float = 1.0
) -> bool:
    """True if ``src`` connects to ``target:port`` and reads the lab server's greeting within ``timeout``."""
    dst = address(lab, target, family)
    sock = netns_socket(lab.guest(src).netns, _af(dst), socket.SOCK_STREAM)
    deadline = time.monotonic() + timeout
    try:
        sock.settimeout(timeout)
        sock.connect((dst, port))
        received = b""
        while len(received) < len(GREETING) and (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            chunk = sock.recv(64)
            if not chunk:
                break
            received += chunk
        return received.startswith(GREETING)
    except OSError:  # refused, timed out, unreachable
        return False
    finally:
        sock.close()


def udp_exchange(
    lab: Lab, src: str, dst: str, port: int, payload: bytes | None = None, *, family: Family = 4,
    timeout: float = 1.0,
) -> bytes | None:  # fmt: skip
    """Send one datagram from guest ``src`` to guest ``dst`` on ``port``; return what ``dst`` received from
    ``src``'s address (None if nothing came within ``timeout``)."""
    to = address(lab, dst, family)
    me = address(lab, src, family)
    data = payload if payload is not None else b"guestwall-udp-" + os.urandom(8).hex().encode()
    rx = netns_socket(lab.guest(dst).netns, _af(to), socket.SOCK_DGRAM)
    tx = netns_socket(lab.guest(src).netns, _af(to), socket.SOCK_DGRAM)
    try:
        rx.bind((to, port))
        tx.sendto(data, (to, port))
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            rx.settimeout(left)
            try:
                got, peer = rx.recvfrom(65535)
            except TimeoutError:
                return None
            if peer[0] == me:
                return got
        return None
    except OSError as e:
        raise LabError(f"UDP from {src} to {to}:{port} failed: {e.strerror or e}") from None
    finally:
        rx.close()
        tx.close()
