"""Helpers for the cloud namespace tests: a Cloud enforcing in a lab, lab guests as cloud ports."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from ipaddress import ip_address

from guestwall.cloud.conntrack import ConntrackTool
from guestwall.cloud.facade import Cloud
from guestwall.config import HostConfig
from guestwall.dataplane.backend import open_backend
from guestwall.engine import Engine
from guestwall.lab import Lab, netns_socket
from guestwall.model.cloud import Port
from guestwall.store import Store


@dataclass
class CloudLab:
    lab: Lab
    cloud: Cloud
    ports: dict[str, Port] = field(default_factory=dict)

    @classmethod
    def open(cls, lab: Lab, store: Store) -> CloudLab:
        flush_conntrack(lab)
        engine = Engine(open_backend(lab.host_netns), HostConfig())
        return cls(lab, Cloud(store, engine, ConntrackTool(lab.host_netns)))

    def port(self, guest: str, groups: Sequence[str] = (), **fields: object) -> Port:
        """Make the lab guest a cloud port (its IPv4 and IPv6 addresses fixed), in ``groups``."""
        g = self.lab[guest]
        values: dict[str, object] = {
            "fixed_ips": (ip_address(g.ipv4), ip_address(g.ipv6)),
            "security_groups": tuple(groups),
            "name": guest,
        }
        values.update(fields)
        port = Port("", g.portdev, g.mac, "default", **values)  # type: ignore[arg-type]
        self.ports[guest] = self.cloud.create_port(port).value
        return self.ports[guest]

    def conntrack(self) -> str:
        return run_host(self.lab, "conntrack", "-L").stdout


def run_host(lab: Lab, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", lab.host_netns, *argv], capture_output=True, text=True, check=False
    )


def flush_conntrack(lab: Lab) -> None:
    run_host(lab, "conntrack", "-F")
    run_host(lab, "conntrack", "-F", "-f", "ipv6")


@dataclass
class Connection:
    """An open TCP connection from one guest to another's echo server: ``works()`` sends a line and
    expects it back."""

    client: socket.socket
    peer: socket.socket

    def works(self, timeout: float = 0.5) -> bool:
        token = f"ping-{time.monotonic_ns()}\n".encode()
        try:
            self.client.settimeout(timeout)
            self.client.sendall(token)
            self.peer.settimeout(timeout)
            got = self.peer.recv(64)
            if got != token:
                return False
            self.peer.sendall(got)
            return self.client.recv(64) == token
        except OSError:
            return False


@dataclass
class Listener:
    lab: Lab
    server: str
    sock: socket.socket
    addr: str
    port: int
    family: int
    opened: list[socket.socket] = field(default_factory=list)

    def connect(self, client: str, timeout: float = 1.0) -> Connection:
        """A connection from ``client``, accepted (raises OSError if it cannot be made)."""
        af = socket.AF_INET if self.family == 4 else socket.AF_INET6
        sock = netns_socket(self.lab[client].netns, af, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect((self.addr, self.port))
        except OSError:
            sock.close()  # else the kernel keeps sending its SYN, which a later rule change lets through
            raise
        self.opened.append(sock)
        self.sock.settimeout(timeout)
        mine = sock.getsockname()[:2]
        while True:
            # an earlier attempt that failed may still be accepted (its SYN retransmitted after a rule
            # change let it through): only this socket's peer is the connection asked for
            peer, remote = self.sock.accept()
            self.opened.append(peer)
            if remote[:2] == mine:
                return Connection(sock, peer)


@contextmanager
def listening(lab: Lab, server: str, port: int, family: int = 4) -> Iterator[Listener]:
    """A TCP listener in ``server`` whose connections stay open until the block ends."""
    g = lab[server]
    addr = g.ipv4 if family == 4 else g.ipv6
    sock = netns_socket(g.netns, socket.AF_INET if family == 4 else socket.AF_INET6, socket.SOCK_STREAM)
    listener = Listener(lab, server, sock, addr, port, family)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((addr, port))
        sock.listen(8)
        yield listener
    finally:
        for opened in listener.opened:
            opened.close()
        sock.close()
