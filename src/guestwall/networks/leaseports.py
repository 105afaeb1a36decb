"""Leases follow their ports: when a guest's port leaves its network's bridge (its veth or tap removed) or
its binding (a libvirt filter binding or a cloud port's) is deleted, the guest's DHCP lease is released
(a DHCPRELEASE on its behalf, as for a deleted fixed host), so the address returns to the pool and
``net-dhcp-leases`` no longer lists it.

A lease's owner is the port the guest's MAC is on: the binding's port device when a binding with that MAC
sits on the bridge, else the port the bridge learned the MAC on. Owners are remembered per network in
``owners.json`` next to the lease file, because once the port is gone nothing in the kernel says whose the
lease was. A MAC that shows up on another port of the bridge (a guest restarted on a new tap) keeps its
lease and moves to that port.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from ipaddress import IPv4Address
from pathlib import Path

from guestwall.networks import dnsmasq, links
from guestwall.networks.model import Network


@dataclass(frozen=True)
class Owner:
    port: str
    bound: bool  # known through a binding: deleting the binding releases the lease


def owners_path(p: dnsmasq.Paths) -> Path:
    return p.dir / "owners.json"


def load_owners(p: dnsmasq.Paths) -> dict[str, Owner]:
    try:
        data = json.loads(owners_path(p).read_text())
        return {mac: Owner(str(o["port"]), bool(o["bound"])) for mac, o in data.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def save_owners(p: dnsmasq.Paths, owners: Mapping[str, Owner]) -> None:
    text = json.dumps({mac: asdict(o) for mac, o in sorted(owners.items())}, indent=1) + "\n"
    if owners_path(p).exists() and owners_path(p).read_text() == text:
        return
    tmp = owners_path(p).with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(owners_path(p))


def follow_ports(netns: str | None, net: Network, bound: Mapping[str, str]) -> list[str]:
    """Release the leases whose port went; ``bound``: MAC → port device of every binding in the store.
    Returns what was released ("IP (MAC) of PORT")."""
    p = dnsmasq.paths(netns, net.name)
    ipv4 = net.ipv4()
    current = [lease for lease in dnsmasq.leases(p) if lease.version == 4 and lease.mac != "-"]
    if ipv4 is None or not current:  # nothing leased: nothing to look up in the kernel
        if not current:
            owners_path(p).unlink(missing_ok=True)
        return []
    server = ipv4.address.ip
    assert isinstance(server, IPv4Address)
    owners = load_owners(p)
    ports, learned = links.bridge_ports(netns, net.bridge_name)
    kept: dict[str, Owner] = {}
    released = []
    for lease in current:
        before = owners.get(lease.mac)
        on_bridge = bound.get(lease.mac) if bound.get(lease.mac) in ports else None
        now = on_bridge or learned.get(lease.mac)
        binding_gone = before is not None and before.bound and lease.mac not in bound
        if not binding_gone and now is not None:
            kept[lease.mac] = Owner(now, on_bridge is not None)
        elif before is not None and (binding_gone or before.port not in ports):
            dnsmasq.release(netns, net.bridge_name, server, lease)
            released.append(f"{lease.ip} ({lease.mac}) of {before.port}")
        elif before is not None:
            kept[lease.mac] = before
    save_owners(p, kept)
    return released
