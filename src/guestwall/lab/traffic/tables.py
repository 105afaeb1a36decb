"""Read the lab's forwarding state: a guest's neighbour table (ARP cache, IPv6 neighbours) and the bridge's
forwarding database (which port the bridge thinks owns a MAC), through netlink in the right namespace.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from pyroute2 import IPRoute
from pyroute2.netlink.rtnl.ndmsg import NTF_SELF, NUD_NAMES, NUD_PERMANENT

from guestwall.lab.spec import GUEST_DEV, Lab

_STATE_NAMES = {value: name[4:].lower() for name, value in NUD_NAMES.items()}


@dataclass(frozen=True)
class Neighbour:
    """A guest's neighbour entry: IP, MAC ("" while unresolved), state ("reachable", "stale", ...)."""

    ip: str
    mac: str
    state: str


@dataclass(frozen=True)
class FdbEntry:
    """One learned or local entry of the bridge's forwarding database: MAC, port device, VLAN, local flag."""

    mac: str
    port: str
    vlan: int | None
    local: bool  # a permanent entry for the bridge's or a port's own address, not learned from traffic


def neighbours(lab: Lab, guest: str, *, family: int | None = None) -> list[Neighbour]:
    """The neighbour entries on ``guest``'s eth0 (``family`` socket.AF_INET for the ARP cache only)."""
    found = []
    with IPRoute(netns=lab.guest(guest).netns) as ipr:
        eth = ipr.link_lookup(ifname=GUEST_DEV)[0]
        for msg in ipr.get_neighbours(family=family or socket.AF_UNSPEC, ifindex=eth):
            ip = msg.get_attr("NDA_DST")
            if ip is None:
                continue
            state = _STATE_NAMES.get(msg["state"], hex(msg["state"]))
            found.append(Neighbour(ip=ip, mac=msg.get_attr("NDA_LLADDR") or "", state=state))
    return found


def arp_cache(lab: Lab, guest: str) -> dict[str, str]:
    """``guest``'s ARP cache as IPv4 address -> MAC, resolved entries only (no incomplete or failed ones)."""
    return {
        n.ip: n.mac for n in neighbours(lab, guest, family=socket.AF_INET) if n.mac and n.state != "failed"
    }


def fdb(lab: Lab) -> list[FdbEntry]:
    """The bridge's forwarding database (entries of br0 itself and of its ports; ports' own multicast
    filter lists, which the kernel reports in the same dump, are left out)."""
    entries = []
    with IPRoute(netns=lab.host_netns) as ipr:
        names = {link["index"]: link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}
        bridge = ipr.link_lookup(ifname=lab.bridge)[0]
        for msg in ipr.fdb("dump"):
            if msg.get_attr("NDA_MASTER") != bridge or msg["flags"] & NTF_SELF:
                continue
            entries.append(
                FdbEntry(
                    mac=msg.get_attr("NDA_LLADDR"),
                    port=names.get(msg["ifindex"], str(msg["ifindex"])),
                    vlan=msg.get_attr("NDA_VLAN"),
                    local=bool(msg["state"] & NUD_PERMANENT),
                )
            )
    return entries


def fdb_port(lab: Lab, mac: str) -> str | None:
    """The port the bridge would forward frames for ``mac`` to (learned entries only), or None."""
    mac = mac.lower()
    for entry in fdb(lab):
        if entry.mac == mac and not entry.local:
            return entry.port
    return None
