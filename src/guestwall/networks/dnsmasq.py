"""One dnsmasq per network, as libvirt runs it (reference next-wave §A.2), with what its users needed:
``bind-dynamic`` on the bridge only (a system dnsmasq on 0.0.0.0:53 does not clash), fixed hosts as one
file per host in a ``dhcp-hostsdir`` (one SIGHUP per batch of changes, so a deleted host is really gone),
a persistent lease file (leases survive a restart: no DHCPNAK as with ``--leasefile-ro``), and a
DHCPRELEASE on behalf of a removed host so its address returns to the pool at once.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from ipaddress import IPv4Address, ip_address
from pathlib import Path

from guestwall.dataplane.netns import call_in_netns, netns_path
from guestwall.errors import DataplaneError
from guestwall.networks.model import ForwardMode, Network

BASE_DIR = "/var/lib/guestwall/networks"
DNSMASQ = "/usr/sbin/dnsmasq"
_CLONE_NEWNET = 0x40000000


@dataclass(frozen=True)
class Paths:
    dir: Path

    @property
    def conf(self) -> Path:
        return self.dir / "dnsmasq.conf"

    @property
    def pid(self) -> Path:
        return self.dir / "dnsmasq.pid"

    @property
    def leases(self) -> Path:
        return self.dir / "dnsmasq.leases"

    @property
    def hostsdir(self) -> Path:
        return self.dir / "hosts"

    @property
    def addnhosts(self) -> Path:
        return self.dir / "addnhosts"


def paths(netns: str | None, network: str) -> Paths:
    """Per namespace and network: ``$GUESTWALL_NET_DIR`` (default /var/lib/guestwall/networks)."""
    base = Path(os.environ.get("GUESTWALL_NET_DIR", BASE_DIR))
    return Paths(base / (netns.replace("/", "_") if netns else "host") / network)


def needs_dnsmasq(net: Network) -> bool:
    """libvirt starts dnsmasq for an IPv4 network unless DNS is off and no DHCP is configured."""
    has_dhcp = any((ip.dhcp and ip.dhcp.ranges) or (ip.dhcp and ip.dhcp.hosts) for ip in net.ips)
    return bool(net.ips) and (net.dns.enable is not False or has_dhcp)


def conf_text(net: Network, p: Paths) -> str:
    """The configuration file (re-read only on restart; hosts are reloaded with SIGHUP)."""
    lines = ["## written by guestwall for network " + net.name, "strict-order", f"pid-file={p.pid}"]
    if net.domain is not None:
        lines.append(f"domain={net.domain.name}")
        if net.domain.local_only:
            lines.append(f"local=/{net.domain.name}/")
        lines.append("expand-hosts")
    lines += ["except-interface=lo", "bind-dynamic", f"interface={net.bridge_name}"]
    if net.dns.enable is False:
        lines.append("port=0")
    forwarders = [f for f in net.dns.forwarders if f.addr is not None]
    if forwarders:
        lines.append("no-resolv")
        lines += [f"server=/{f.domain}/{f.addr}" if f.domain else f"server={f.addr}" for f in forwarders]
    if net.forward.mode is ForwardMode.NONE:
        lines += ["dhcp-option=3", "no-resolv"]  # isolated: no default route (libvirt)
    if net.mtu:
        lines.append(f"dhcp-option-force=26,{net.mtu}")
    lease_max = 0
    for ip in net.ips:
        if ip.version == 6:
            # router advertisements for every IPv6 subnet; DHCPv6 where it has ranges (libvirt)
            ranges = ip.dhcp.ranges if ip.dhcp else ()
            lines += [f"dhcp-range={r.start},{r.end},{ip.address.network.prefixlen}" for r in ranges]
            if not ranges:
                lines.append(f"dhcp-range={ip.address.ip},ra-only")
            lease_max += sum(min(int(r.end) - int(r.start) + 1, 2**16) for r in ranges)  # type: ignore[arg-type]
            continue
        if ip.dhcp is None:
            continue
        for r in ip.dhcp.ranges:
            lines.append(f"dhcp-range={r.start},{r.end},{ip.address.netmask}")
            lease_max += int(r.end) - int(r.start) + 1  # type: ignore[arg-type]
        if ip.dhcp.hosts and not ip.dhcp.ranges:
            lines.append(f"dhcp-range={ip.address.network.network_address},static,{ip.address.netmask}")
    if lease_max or any(ip.dhcp for ip in net.ips):
        lines += ["dhcp-no-override", "dhcp-authoritative", f"dhcp-lease-max={max(lease_max, 1)}"]
    if any(ip.version == 6 for ip in net.ips):
        lines.append("enable-ra")
    lines += [
        f"dhcp-hostsdir={p.hostsdir}",
        f"dhcp-leasefile={p.leases}",
        f"addn-hosts={p.addnhosts}",
        "no-ping",  # no delay before an address is offered
    ]
    return "\n".join(lines) + "\n"


def host_files(net: Network) -> dict[str, str]:
    """One dhcp-hostsdir file per fixed host: ``mac,ip[,name]`` (or ``name,ip`` without a MAC)."""
    out = {}
    for i, h in enumerate(net.dhcp_hosts()):
        if h.ip is None or h.ip.version != 4:
            continue
        if h.mac:
            line = ",".join(x for x in (h.mac, str(h.ip), h.name) if x)
            key = h.mac.replace(":", "")
        else:
            line = f"{h.name},{h.ip}"
            key = f"name-{i}"
        out[key] = line + "\n"
    return out


def addn_hosts_text(net: Network) -> str:
    return "".join(f"{h.ip}\t{' '.join(h.hostnames)}\n" for h in net.dns.hosts)


def write_files(net: Network, p: Paths) -> bool:
    """Write configuration and host files; True when hosts changed (a reload is due)."""
    p.hostsdir.mkdir(parents=True, exist_ok=True)
    _write(p.conf, conf_text(net, p))
    changed = _write(p.addnhosts, addn_hosts_text(net))
    wanted = host_files(net)
    for f in p.hostsdir.iterdir():
        if f.name not in wanted:
            f.unlink()
            changed = True
    for name, text in wanted.items():
        changed |= _write(p.hostsdir / name, text)
    p.leases.touch(exist_ok=True)
    return changed


def _write(path: Path, text: str) -> bool:
    if path.exists() and path.read_text() == text:
        return False
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.chmod(0o644)
    tmp.replace(path)
    return True


def running(p: Paths) -> int | None:
    """The pid of this network's dnsmasq, if alive (its command line names our configuration file)."""
    try:
        pid = int(p.pid.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if str(p.conf).encode() in cmdline else None


def _enter(netns: str | None) -> None:
    if netns is None:
        return
    fd = os.open(netns_path(netns), os.O_RDONLY)
    try:
        if ctypes.CDLL(None, use_errno=True).setns(fd, _CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns")
    finally:
        os.close(fd)


def start(netns: str | None, p: Paths) -> int:
    """Start dnsmasq (it daemonizes and writes its pid file) inside the namespace; returns its pid."""
    if not Path(DNSMASQ).exists():
        raise DataplaneError(f"{DNSMASQ} is missing (Debian package dnsmasq-base)")
    netns_path(netns) if netns else None
    for _ in range(50):  # a predecessor killed just now may still hold its sockets for a moment
        try:
            proc = subprocess.run(
                [DNSMASQ, f"--conf-file={p.conf}"],
                preexec_fn=lambda: _enter(netns),  # only setns(2) runs there
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as e:
            raise DataplaneError(f"dnsmasq could not be started: {e}") from e
        if proc.returncode == 0 or "Address already in use" not in proc.stderr:
            break
        time.sleep(0.05)
    if proc.returncode != 0:
        raise DataplaneError(f"dnsmasq failed to start: {proc.stderr.strip() or proc.returncode}")
    for _ in range(100):
        pid = running(p)
        if pid is not None:
            return pid
        time.sleep(0.02)
    raise DataplaneError(f"dnsmasq started but wrote no pid file ({p.pid})")


def reload(p: Paths) -> bool:
    """SIGHUP: dnsmasq re-reads the hosts directory and addn-hosts (not its configuration)."""
    pid = running(p)
    if pid is None:
        return False
    os.kill(pid, signal.SIGHUP)
    return True


def stop(p: Paths, grace: float = 3.0) -> None:
    pid = running(p)
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.02)
    if Path(f"/proc/{pid}").exists():
        os.kill(pid, signal.SIGKILL)


@dataclass(frozen=True)
class Lease:
    expiry: int
    mac: str
    ip: str
    hostname: str | None
    client_id: str | None

    @property
    def version(self) -> int:
        return 6 if ":" in self.ip else 4


def leases(p: Paths) -> list[Lease]:
    """dnsmasq's lease file: ``expiry mac ip hostname client-id`` (``*`` for none); DHCPv6 leases have the
    IAID where the MAC is (no MAC: "-") and the client's DUID last."""
    out = []
    try:
        text = p.leases.read_text()
    except OSError:
        return []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[0].isdigit():
            name = None if parts[3] == "*" else parts[3]
            cid = parts[4] if len(parts) > 4 and parts[4] != "*" else None
            mac = parts[1].lower() if ":" in parts[1] else "-"
            out.append(Lease(int(parts[0]), mac, parts[2], name, cid))
    return out


def release(netns: str | None, bridge: str, server: IPv4Address, lease: Lease) -> None:
    """Send dnsmasq a DHCPRELEASE for ``lease`` as the client would (what dnsmasq's dhcp_release does)."""
    mac = bytes.fromhex(lease.mac.replace(":", ""))
    packet = (
        bytes([1, 1, 6, 0]) + os.urandom(4) + bytes(4) + ip_address(lease.ip).packed + bytes(12)
        + mac + bytes(10) + bytes(192) + b"\x63\x82\x53\x63"
        + bytes([53, 1, 7]) + bytes([54, 4]) + server.packed + b"\xff"
    )  # fmt: skip

    def send() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, bridge.encode())
            s.sendto(packet, (str(server), 67))

    call_in_netns(netns, send)


def sync_hosts(net: Network, p: Paths) -> bool:
    """Bring files up to date and reload once if hosts changed (one SIGHUP for a batch)."""
    changed = write_files(net, p)
    if changed:
        reload(p)
    return changed
