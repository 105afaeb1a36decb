"""A small world for network tests, all in namespaces this test made: a host (where guestwall builds
bridges, runs dnsmasq and applies rules), an "outside" namespace behind the host's uplink, and guests whose
eth0 is a veth into the host. Guests use real DHCP clients (busybox udhcpc). Everything is removed however
the test ends.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pyroute2 import IPRoute

from guestwall.lab.netns import (
    create_netns,
    end_processes,
    netns_pids,
    netns_socket,
    remove_netns,
    run_in_netns,
    write_sysctl,
)
from guestwall.store import Store, open_store
from netns_fixtures import new_prefix, require_netns

UPLINK_HOST = "198.51.100.1"
UPLINK_OUTSIDE = "198.51.100.2"
UDHCPC_SCRIPT = """#!/bin/sh
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    [ -n "$router" ] && ip route replace default via "$router" dev "$interface"
    echo "$ip" > "$LEASE_FILE"
    ;;
esac
exit 0
"""


@dataclass
class World:
    prefix: str
    tmp: Path
    store: Store
    guests: dict[str, str] = field(default_factory=dict)  # guest name -> its namespace

    @property
    def host(self) -> str:
        return f"{self.prefix}-h"

    @property
    def outside(self) -> str:
        return f"{self.prefix}-o"

    def run(
        self, ns: str, *argv: str, check: bool = True, timeout: float = 20
    ) -> subprocess.CompletedProcess[str]:
        return run_in_netns(ns, argv, check=check, timeout=timeout)

    def guest(self, name: str, network: str, portgroup: str | None = None, address: str | None = None) -> str:
        """A guest namespace whose eth0 pairs with host port ``<name>`` attached to ``network``."""
        from guestwall.networks import service

        ns = f"{self.prefix}-{name}"
        create_netns(ns)
        self.guests[name] = ns
        with IPRoute(netns=self.host) as ipr:
            ipr.link("add", ifname=name, kind="veth", peer={"ifname": "eth0", "net_ns_fd": ns})
        with IPRoute(netns=ns) as ipr:
            for dev in ("lo", "eth0"):
                ipr.link("set", index=ipr.link_lookup(ifname=dev)[0], state="up")
            if address:
                addr, plen = address.split("/")
                ipr.addr("add", index=ipr.link_lookup(ifname="eth0")[0], address=addr, prefixlen=int(plen))
        service.attach(self.store, network, name, portgroup, self.host)
        return ns

    def dhcp(self, name: str, hostname: str | None = None) -> str | None:
        """Run udhcpc in the guest; the leased address, or None."""
        script = self.tmp / "udhcpc.sh"
        if not script.exists():
            script.write_text(UDHCPC_SCRIPT)
            script.chmod(0o755)
        out = self.tmp / f"lease-{name}"
        out.unlink(missing_ok=True)
        argv = ["env", f"LEASE_FILE={out}", "busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-f", "-t", "6",
                "-T", "1", "-A", "1", "-s", str(script)]  # fmt: skip
        if hostname:
            argv += ["-x", f"hostname:{hostname}"]
        self.run(self.guests[name], *argv, check=False, timeout=30)
        return out.read_text().strip() if out.exists() else None

    def ping(self, name: str, target: str) -> bool:
        ns = self.guests.get(name, name)
        return self.run(ns, "busybox", "ping", "-c", "1", "-W", "1", target, check=False).returncode == 0

    def tcp_source(
        self,
        client_ns: str,
        server_ns: str,
        server_ip: str,
        port: int = 8080,
        connect_port: int | None = None,
    ) -> str | None:
        """Connect from ``client_ns`` to a listener in ``server_ns``: the source address it saw, or None."""
        listener = netns_socket(server_ns, socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("0.0.0.0", port))
        listener.listen(1)
        listener.settimeout(3)
        seen: list[str] = []

        def accept() -> None:
            try:
                conn, peer = listener.accept()
                seen.append(peer[0])
                conn.close()
            except OSError:
                pass

        t = threading.Thread(target=accept)
        t.start()
        client = netns_socket(client_ns, socket.AF_INET, socket.SOCK_STREAM)
        client.settimeout(2)
        try:
            client.connect((server_ip, connect_port or port))
        except OSError:
            pass
        finally:
            client.close()
        t.join()
        listener.close()
        return seen[0] if seen else None


def make_world(tmp: Path) -> Iterator[World]:
    require_netns()
    prefix = new_prefix("n")
    # dnsmasq reads its hosts directory after dropping root: the state must be readable to its user
    # (pytest's tmp_path is private to root)
    state = Path(tempfile.mkdtemp(prefix=f"{prefix}-state-"))
    state.chmod(0o755)
    os.environ["GUESTWALL_NET_DIR"] = str(state)
    store = open_store(f"sqlite:///{tmp}/guestwall.db")
    world = World(prefix, tmp, store)
    try:
        create_netns(world.host)
        create_netns(world.outside)
        write_sysctl(world.host, "net.ipv4.ip_forward", 1)
        with IPRoute(netns=world.host) as ipr:
            ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
            ipr.link("add", ifname="uplink", kind="veth", peer={"ifname": "eth0", "net_ns_fd": world.outside})
            up = ipr.link_lookup(ifname="uplink")[0]
            ipr.addr("add", index=up, address=UPLINK_HOST, prefixlen=24)
            ipr.link("set", index=up, state="up")
        with IPRoute(netns=world.outside) as ipr:
            for dev in ("lo", "eth0"):
                ipr.link("set", index=ipr.link_lookup(ifname=dev)[0], state="up")
            ipr.addr("add", index=ipr.link_lookup(ifname="eth0")[0], address=UPLINK_OUTSIDE, prefixlen=24)
        yield world
    finally:
        namespaces = [world.host, world.outside, *world.guests.values()]
        end_processes(netns_pids(*namespaces))  # dnsmasq and DHCP clients we started there
        for ns in namespaces:
            remove_netns(ns)
        store.close()
        os.environ.pop("GUESTWALL_NET_DIR", None)
        shutil.rmtree(state, ignore_errors=True)
