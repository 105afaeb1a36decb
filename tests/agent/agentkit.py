"""Helpers for the agent's tests: a host (lab + store + host configuration) driven through the real CLI,
the agent as a subprocess in the lab's host namespace, and a flood of marked forged frames.

Every process a test starts is ended by its pid; labs are removed by the netns fixtures.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from guestwall.lab import Guest, Lab
from guestwall.lab.traffic.capture import collect, endpoint, open_capture, open_sender
from guestwall.lab.traffic.probe import find_marks, marker, new_token, stamp

_counter = itertools.count(1)

# tests that also run on PostgreSQL (GUESTWALL_TEST_PG): ``@STORES``, then ``make_host(..., store=store)``
STORES = pytest.mark.parametrize("store", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])


def binding_xml(
    guest: Guest, filter_name: str = "clean-traffic", params: dict[str, str | list[str]] | None = None
) -> str:
    lines = []
    for name, value in (params or {}).items():
        for v in [value] if isinstance(value, str) else value:
            lines.append(f"<parameter name='{name}' value='{v}'/>")
    return (
        f"<filterbinding><owner><name>{guest.name}</name><uuid>00000000-0000-4000-8000-{guest.index:012d}</uuid>"
        f"</owner><portdev name='{guest.portdev}'/><mac address='{guest.mac}'/>"
        f"<filterref filter='{filter_name}'>{''.join(lines)}</filterref></filterbinding>\n"
    )


def wait_until(
    check: Callable[[], Any], timeout: float, interval: float = 0.02, what: str = "condition"
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


@dataclass
class Host:
    """One lab host: its store (an SQLite file, or a PostgreSQL schema), its host configuration, the CLI and
    the agent against both."""

    lab: Lab
    workdir: Path
    config: str = ""
    store_url: str | None = None  # default: an SQLite file in workdir
    agents: list[AgentProcess] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.config_path = self.workdir / "guestwall.toml"
        self.config_path.write_text(self.config)
        if self.store_url is None:  # as an installation does: only commands that write create a store
            from guestwall.store import open_store

            open_store(self.url).close()

    @property
    def url(self) -> str:
        return self.store_url or f"sqlite:///{self.workdir}/gw.db"

    @property
    def netns(self) -> str:
        return self.lab.host_netns

    def env(self) -> dict[str, str]:
        return {**os.environ, "GUESTWALL_CONFIG": str(self.config_path), "PYTHONDONTWRITEBYTECODE": "1"}

    def cli_argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "guestwall", "--db", self.url, "--netns", self.netns, *args]

    def run(
        self, *args: str, check: bool = True, timeout: float = 120, separate: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """A CLI command: in this process (fast), or as a process of its own with ``separate``."""
        if separate:
            proc = subprocess.run(
                self.cli_argv(*args), capture_output=True, text=True, timeout=timeout, env=self.env()
            )
        else:
            from click.testing import CliRunner

            from guestwall.cli.app import cli

            env = {"GUESTWALL_CONFIG": str(self.config_path)}
            result = CliRunner().invoke(cli, self.cli_argv(*args)[3:], env=env, catch_exceptions=False)
            proc = subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)
        if check and proc.returncode != 0:
            raise AssertionError(f"guestwall {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc

    def write(self, name: str, text: str) -> str:
        path = self.workdir / name
        path.write_text(text)
        return str(path)

    def bind(
        self,
        guests: Sequence[Guest],
        filter_name: str = "clean-traffic",
        params: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        """Bind guests (IP given as a parameter unless ``params`` says otherwise for that guest)."""
        files = [
            self.write(
                f"bind-{g.portdev}.xml",
                binding_xml(g, filter_name, (params or {}).get(g.name, {"IP": g.ipv4})),
            )
            for g in guests
        ]
        self.run("nwfilter-binding-create", *files)

    def nft(
        self, *args: str, check: bool = True, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", self.netns, "nft", *args],
            capture_output=True,
            text=True,
            check=check,
            input=input,
        )

    def status(self) -> list[dict[str, Any]]:
        import json

        report = json.loads(self.run("status", "--format", "json", check=False).stdout)
        rows: list[dict[str, Any]] = report["ports"]
        return rows

    def plan(self) -> str:
        """What ``guestwall apply`` would still change (empty when the kernel equals the store)."""
        return self.run("apply", "--dry-run", "-q").stdout

    def start_agent(self, *extra: str, wait: bool = True) -> AgentProcess:
        agent = AgentProcess(self, list(extra))
        self.agents.append(agent)
        if wait:
            agent.wait_ready()
        return agent

    def stop_agents(self) -> None:
        for agent in self.agents:
            agent.stop()


class AgentProcess:
    """``guestwall agent`` in the lab's host namespace; readiness through sd_notify (an abstract socket)."""

    def __init__(self, host: Host, extra: list[str]) -> None:
        self.host = host
        self.log_path = host.workdir / f"agent-{next(_counter)}.log"
        name = f"guestwall-test-{os.getpid()}-{next(_counter)}"
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind("\0" + name)
        self.notify.settimeout(0.1)
        env = {**host.env(), "NOTIFY_SOCKET": "@" + name}
        argv = [
            sys.executable,
            "-m",
            "guestwall",
            "agent",
            "--netns",
            host.netns,
            "--db",
            host.url,
            "--log-level",
            "debug",
            *extra,
        ]
        self._log = open(self.log_path, "w")  # noqa: SIM115 (closed in stop)
        self.started = time.monotonic()
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        self.ready_after: float | None = None

    def wait_ready(self, timeout: float = 30) -> float:
        """Seconds from start to READY=1."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"agent exited with {self.proc.returncode}:\n{self.log()}")
            try:
                message = self.notify.recv(256).decode()
            except TimeoutError:
                continue
            if "READY=1" in message:
                self.ready_after = time.monotonic() - self.started
                return self.ready_after
        raise AssertionError(f"agent not ready after {timeout} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text()

    def wait_log(self, pattern: str, timeout: float = 10, after: int = 0) -> re.Match[str]:
        """The first match of ``pattern`` in the log at or after character ``after``."""
        regex = re.compile(pattern)

        def found() -> re.Match[str] | None:
            return regex.search(self.log(), after)

        match: re.Match[str] = wait_until(found, timeout, 0.02, f"agent log line /{pattern}/")
        return match

    def signal(self, signum: int) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signum)

    def stop(self, timeout: float = 10) -> int:
        """SIGTERM and wait; SIGKILL if it does not stop. Returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        self.notify.close()
        return self.proc.returncode

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()


class Flood:
    """Frames sent from one guest in a loop (each stamped with its index), captured on receivers, until
    stopped. ``arrived()`` says which of the frames got through, by index into ``frames``."""

    def __init__(
        self, lab: Lab, sender: str, frames: Sequence[Any], receivers: Sequence[str], interval: float = 0.002
    ):
        self.lab = lab
        self.token = new_token()
        self.wire = [stamp(f, marker(self.token, i)) for i, f in enumerate(frames)]
        self.socks = {
            name: open_capture(endpoint(lab, name), promisc=name == lab.bridge) for name in receivers
        }
        self.out = open_sender(endpoint(lab, sender))
        self.interval = interval
        self.sent = 0
        self._stop = threading.Event()
        self._captured: dict[str, list[bytes]] = {name: [] for name in receivers}
        self._thread = threading.Thread(target=self._send, daemon=True)

    def __enter__(self) -> Flood:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _send(self) -> None:
        while not self._stop.is_set():
            for frame in self.wire:
                with contextlib.suppress(OSError):
                    self.out.send(frame)
                self.sent += 1
            self._drain(0)
            time.sleep(self.interval)

    def _drain(self, timeout: float) -> None:
        got = collect(self.socks, timeout)
        for name, frames in got.items():
            self._captured[name].extend(frames)

    def stop(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join()
        self._drain(0.3)
        self.out.close()
        for sock in self.socks.values():
            sock.close()

    def arrived(self) -> dict[str, dict[int, int]]:
        """Per receiver: frame index -> how many copies arrived."""
        out: dict[str, dict[int, int]] = {}
        for name, frames in self._captured.items():
            counts: dict[int, int] = {}
            for data in frames:
                for index in find_marks(data, self.token)[:1]:
                    counts[index] = counts.get(index, 0) + 1
            out[name] = counts
        return out


class Dnsmasq:
    """A real DHCP server: dnsmasq on the lab's bridge (host namespace), no DNS; stopped by its pid."""

    def __init__(self, lab: Lab, workdir: Path, first: str, last: str, lease: str = "2m") -> None:
        argv = [
            "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", f"--interface={lab.bridge}",
            "--bind-interfaces", "--except-interface=lo", "--port=0", "--no-ping", "--user=root",
            f"--dhcp-range={first},{last},255.255.255.0,{lease}", f"--dhcp-leasefile={workdir}/dnsmasq.leases",
            "--pid-file=", "--log-dhcp", "--log-facility=-",
        ]  # fmt: skip
        self.log_path = workdir / "dnsmasq.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", lab.host_netns, *argv], stdout=self._log, stderr=subprocess.STDOUT
        )
        wait_until(lambda: "sockets bound" in self.log_path.read_text(), 10, what="dnsmasq to start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)
        self._log.close()


def dhcp_lease(lab: Lab, guest: str, timeout: float = 5.0) -> tuple[str, str]:
    """Get a lease for ``guest`` as a DHCP client does (DISCOVER, OFFER, REQUEST, ACK), with raw frames from
    its eth0; returns (leased address, server). The address is not configured on the interface."""
    from scapy.layers.dhcp import BOOTP, DHCP
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether

    g = lab[guest]
    ep = endpoint(lab, guest)
    xid = int.from_bytes(os.urandom(4), "big")
    chaddr = bytes.fromhex(g.mac.replace(":", ""))

    def request(options: list[object]) -> bytes:
        return bytes(
            Ether(src=g.mac, dst="ff:ff:ff:ff:ff:ff")
            / IP(src="0.0.0.0", dst="255.255.255.255")
            / UDP(sport=68, dport=67)
            / BOOTP(op=1, xid=xid, chaddr=chaddr, flags=0x8000)
            / DHCP(options=[*options, "end"])
        )

    def answer(kind: int) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for data in collect({"eth0": sock}, 0.1)["eth0"]:
                pkt = Ether(data)
                if BOOTP in pkt and pkt[BOOTP].xid == xid and DHCP in pkt:
                    options: dict[str, Any] = dict(o for o in pkt[DHCP].options if isinstance(o, tuple))
                    if options.get("message-type") == kind:
                        return pkt
        raise AssertionError(f"no DHCP answer of type {kind} for {guest}")

    sock = open_capture(ep)
    out = open_sender(ep)
    try:
        out.send(request([("message-type", "discover")]))
        offer = answer(2)
        leased = offer[BOOTP].yiaddr
        offered: dict[str, Any] = dict(o for o in offer[DHCP].options if isinstance(o, tuple))
        server = offered["server_id"]
        out.send(request([("message-type", "request"), ("requested_addr", leased), ("server_id", server)]))
        ack = answer(5)
        return str(ack[BOOTP].yiaddr), str(server)
    finally:
        sock.close()
        out.close()


def dhcp_ack(server: Guest, client: Guest, leased: str, lease_time: int) -> Any:
    """A DHCP ACK as a server guest would send it to a client guest (for trusted/untrusted server tests)."""
    from scapy.layers.dhcp import BOOTP, DHCP
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether

    chaddr = bytes.fromhex(client.mac.replace(":", ""))
    return (
        Ether(src=server.mac, dst=client.mac)
        / IP(src=server.ipv4, dst=leased)
        / UDP(sport=67, dport=68)
        / BOOTP(op=2, xid=0x4757, yiaddr=leased, chaddr=chaddr)
        / DHCP(
            options=[("message-type", "ack"), ("server_id", server.ipv4), ("lease_time", lease_time), "end"]
        )
    )


def new_guest(lab: Lab, name: str, index: int) -> Guest:
    """A guest the lab does not have yet, on port ``vnet<index>``; its namespace ``<prefix>-<name>`` goes
    away with the lab."""
    from guestwall.lab.spec import FIRST_HOST, guest_mac

    return Guest(
        name=name,
        index=index,
        netns=f"{lab.prefix}-{name}",
        portdev=f"vnet{index}",
        mac=guest_mac(index),
        ipv4=str(lab.spec.network4()[FIRST_HOST + index]),
        ipv6="",
    )


def add_port(lab: Lab, guest: Guest) -> Lab:
    """Create ``guest`` and its port on the lab's bridge after the fact (as a VM that starts); returns the
    lab with it."""
    from guestwall.lab.spec import port_mac

    index = guest.index
    host = ["ip", "-n", lab.host_netns]
    commands = [
        ["ip", "netns", "add", guest.netns],
        [*host, "link", "add", guest.portdev, "address", port_mac(index), "type", "veth",
         "peer", "name", "eth0", "address", guest.mac, "netns", guest.netns],
        [*host, "link", "set", guest.portdev, "master", lab.bridge, "up"],
        ["ip", "-n", guest.netns, "addr", "add", f"{guest.ipv4}/{lab.prefixlen4}", "dev", "eth0"],
        ["ip", "-n", guest.netns, "link", "set", "eth0", "up"],
    ]  # fmt: skip
    for argv in commands:
        subprocess.run(argv, check=True, capture_output=True)
    return Lab(spec=lab.spec, guests=(*lab.guests, guest))


def remove_port(lab: Lab, guest: Guest) -> None:
    subprocess.run(
        ["ip", "-n", lab.host_netns, "link", "del", guest.portdev], check=True, capture_output=True
    )


def arrives(lab: Lab, sender: str, frame: Any, to: str) -> bool:
    """One probe: whether ``frame`` from ``sender`` reaches ``to`` (for frames that must be dropped)."""
    from guestwall.lab.traffic import probe

    return bool(probe(lab, sender, [frame], [to])[to])


def gets_through(lab: Lab, sender: str, frame: Any, to: str, timeout: float = 3.0) -> bool:
    """Whether ``frame`` reaches ``to`` within ``timeout``, probing again while it does not (for frames
    that must pass: a loaded machine may be slow, never wrong the other way)."""
    deadline = time.monotonic() + timeout
    while True:
        if arrives(lab, sender, frame, to):
            return True
        if time.monotonic() > deadline:
            return False


class PgStore:
    """A throw-away schema in the PostgreSQL test database (GUESTWALL_TEST_PG), selected by the URL."""

    def __init__(self, base_url: str) -> None:
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        from guestwall.store.sqlstore import create_store_engine

        self.name = f"agent_{os.getpid()}_{next(_counter)}"
        self.engine = create_store_engine(base_url)
        with self.engine.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {self.name}"))
        options = {"options": f"-csearch_path={self.name}"}
        self.url = make_url(base_url).update_query_dict(options).render_as_string(hide_password=False)

    def drop(self) -> None:
        from sqlalchemy import text

        with self.engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {self.name} CASCADE"))
        self.engine.dispose()
