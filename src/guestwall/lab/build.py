"""Build, inspect and remove a namespace lab: ``<prefix>-host`` with bridge br0, one namespace per guest.

Everything happens inside the lab's own namespaces through pyroute2 (one netlink connection per namespace);
the root namespace's links and firewall are never touched. Sysctls are written through ``/proc/sys`` from a
thread inside the namespace, because netlink cannot set them (accept_dad, bridge-nf-call-*).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from guestwall.errors import LabError
from guestwall.lab import netns
from guestwall.lab.spec import BRIDGE, BRIDGE_MAC, GUEST_DEV, Guest, Lab, LabSpec, port_mac, spec_lab

IFA_F_NODAD = 0x02  # the address is usable at once: no duplicate address detection
HOST_SYSCTLS = {
    "net.ipv6.conf.default.accept_dad": 0,  # before br0 exists, so its link-local is not tentative either
    "net.bridge.bridge-nf-call-iptables": 1,  # bridged IPv4 reaches the ip/inet forward hook (stateful rules)
    "net.bridge.bridge-nf-call-ip6tables": 1,
}
GUEST_SYSCTLS = {
    "net.ipv6.conf.default.accept_dad": 0,  # before eth0 arrives, so eth0 inherits it (link-local included)
}
# After eth0 exists: a non-initial namespace has no net.ipv4.neigh.default (the table defaults are global).
GUEST_DEV_SYSCTLS = {
    # Accept an ARP reply that changes a known address at once, not only 1 s after the last update, so
    # an ARP-spoofing probe has the same effect whatever the timing (the kernel default is 100, in 1/100 s).
    f"net.ipv4.neigh.{GUEST_DEV}.locktime": 0,
}


@contextmanager
def _step(what: str) -> Iterator[None]:
    """Translate pyroute2 and OS errors into one LabError line naming the step."""
    try:
        yield
    except NetlinkError as e:
        raise LabError(f"{what}: {e.args[1] if len(e.args) > 1 else e} (netlink error {e.code})") from None
    except OSError as e:
        raise LabError(f"{what}: {e.strerror or e}") from None


def _ifindex(ipr: Any, ifname: str) -> int:
    found = ipr.link_lookup(ifname=ifname)
    if not found:
        raise LabError(f"no link {ifname} in {ipr.status.get('netns') or 'the namespace'}")
    return int(found[0])


def lab_up(spec: LabSpec, *, replace: bool = False) -> Lab:
    """Build the lab ``spec`` describes and return it. An existing lab with the same prefix is an error,
    unless ``replace`` (then it is removed first). On failure, whatever was built is removed again."""
    existing = netns.list_netns(spec.prefix)
    if existing:
        if not replace:
            raise LabError(f"lab {spec.prefix} already exists ({len(existing)} namespaces); remove it first")
        lab_down(spec.prefix)
    lab = spec_lab(spec)
    try:
        _build(lab)
    except BaseException:
        lab_down(spec.prefix)
        raise
    return lab


def _build(lab: Lab) -> None:
    with _step(f"creating namespace {lab.host_netns}"):
        netns.create_netns(lab.host_netns)
    for key, value in HOST_SYSCTLS.items():
        netns.write_sysctl(lab.host_netns, key, value)
    with _step(f"connecting to {lab.host_netns}"):
        host = IPRoute(netns=lab.host_netns)
    try:
        with _step(f"creating bridge {BRIDGE} in {lab.host_netns}"):
            host.link("set", index=_ifindex(host, "lo"), state="up")
            # STP off: ports forward at once. Multicast snooping off: multicast floods to every port, so
            # whether a probe arrives depends on filters only, not on what MLD reports the bridge heard.
            host.link(
                "add",
                ifname=BRIDGE,
                kind="bridge",
                address=BRIDGE_MAC,
                br_stp_state=0,
                br_mcast_snooping=0,
                br_forward_delay=0,
            )
            br = _ifindex(host, BRIDGE)
            host.addr("add", index=br, address=lab.bridge_ipv4, prefixlen=lab.prefixlen4)
            host.addr("add", index=br, address=lab.bridge_ipv6, prefixlen=lab.prefixlen6, flags=IFA_F_NODAD)
            host.link("set", index=br, state="up")
        for guest in lab.guests:
            _add_guest(lab, host, br, guest)
    finally:
        host.close()


def _add_guest(lab: Lab, host: Any, br: int, guest: Guest) -> None:
    with _step(f"creating namespace {guest.netns}"):
        netns.create_netns(guest.netns)
    for key, value in GUEST_SYSCTLS.items():
        netns.write_sysctl(guest.netns, key, value)
    with _step(f"creating port {guest.portdev} for guest {guest.name}"):
        # The guest end is born in the guest's namespace, so no device ever appears in the root namespace.
        host.link(
            "add",
            ifname=guest.portdev,
            kind="veth",
            address=port_mac(guest.index),
            peer={"ifname": GUEST_DEV, "address": guest.mac, "net_ns_fd": guest.netns},
        )
        port = _ifindex(host, guest.portdev)
        # the alias names the guest so lab_status can read the lab back (newlink ignores IFLA_IFALIAS)
        host.link("set", index=port, master=br, ifalias=guest.name, state="up")
    with _step(f"connecting to {guest.netns}"):
        ipr = IPRoute(netns=guest.netns)
    try:
        with _step(f"configuring {GUEST_DEV} of guest {guest.name}"):
            ipr.link("set", index=_ifindex(ipr, "lo"), state="up")
            eth = _ifindex(ipr, GUEST_DEV)
            ipr.addr("add", index=eth, address=guest.ipv4, prefixlen=lab.prefixlen4)
            ipr.addr("add", index=eth, address=guest.ipv6, prefixlen=lab.prefixlen6, flags=IFA_F_NODAD)
            ipr.link("set", index=eth, state="up")
            ipr.route("add", dst="0.0.0.0/0", gateway=lab.bridge_ipv4, oif=eth)
            ipr.route("add", dst="::/0", gateway=lab.bridge_ipv6, oif=eth, family=socket.AF_INET6)
    finally:
        ipr.close()
    for key, value in GUEST_DEV_SYSCTLS.items():
        netns.write_sysctl(guest.netns, key, value)


def lab_down(prefix: str, *, kill: bool = True) -> list[str]:
    """Remove every namespace named ``<prefix>-*`` and return their names; nothing to remove is fine.

    With ``kill``, processes still running inside those namespaces (servers a test left behind) are ended
    first by pid, so the namespaces and their links really go away.
    """
    names = netns.list_netns(prefix)
    if kill and names:
        netns.end_processes(netns.netns_pids(*names))
    for name in names:
        netns.remove_netns(name)
    return names


def lab_status(prefix: str) -> Lab | None:
    """Read back the lab with this prefix from the kernel; None when there is none.

    Raises LabError when the lab is incomplete (a namespace, port or address is missing).
    """
    names = netns.list_netns(prefix)
    if not names:
        return None
    host_ns = f"{prefix}-host"
    if host_ns not in names:
        raise LabError(f"lab {prefix} is incomplete: namespace {host_ns} is missing (run lab down)")
    with _step(f"reading {host_ns}"), IPRoute(netns=host_ns) as host:
        br = _ifindex(host, BRIDGE)
        v4, v6 = _addresses(host, br)
        ports: dict[int, str] = {}
        for link in host.get_links():
            ifname = link.get_attr("IFLA_IFNAME")
            if ifname.startswith("vnet") and ifname[4:].isdigit() and link.get_attr("IFLA_MASTER") == br:
                ports[int(ifname[4:])] = link.get_attr("IFLA_IFALIAS") or ""
    if not v4 or not v6:
        raise LabError(f"lab {prefix} is incomplete: {BRIDGE} has no IPv4 or IPv6 address")
    order = sorted(ports)
    if order != list(range(len(order))):
        raise LabError(f"lab {prefix} is incomplete: ports {', '.join(f'vnet{i}' for i in order)}")
    spec = LabSpec(
        prefix=prefix,
        guests=len(order),
        subnet=str(v4.network),
        subnet6=str(v6.network),
        names=tuple(ports[i] for i in order),
    )
    guests = []
    for i in order:
        expected = spec.guest(i)
        if expected.netns not in names:
            raise LabError(f"lab {prefix} is incomplete: namespace {expected.netns} is missing")
        with _step(f"reading {expected.netns}"), IPRoute(netns=expected.netns) as ipr:
            eth = _ifindex(ipr, GUEST_DEV)
            mac = ipr.get_links(eth)[0].get_attr("IFLA_ADDRESS")
            g4, g6 = _addresses(ipr, eth)
        guests.append(
            Guest(
                name=expected.name,
                index=i,
                netns=expected.netns,
                portdev=expected.portdev,
                mac=mac,
                ipv4=str(g4.ip) if g4 else "",
                ipv6=str(g6.ip) if g6 else "",
            )
        )
    return Lab(spec=spec, guests=tuple(guests))


def _addresses(ipr: Any, index: int) -> tuple[ipaddress.IPv4Interface | None, ipaddress.IPv6Interface | None]:
    """The first IPv4 address and the first global (non link-local) IPv6 address of a link."""
    v4: ipaddress.IPv4Interface | None = None
    v6: ipaddress.IPv6Interface | None = None
    for msg in ipr.get_addr(index=index):
        iface = ipaddress.ip_interface(f"{msg.get_attr('IFA_ADDRESS')}/{msg['prefixlen']}")
        if isinstance(iface, ipaddress.IPv4Interface) and v4 is None:
            v4 = iface
        elif isinstance(iface, ipaddress.IPv6Interface) and v6 is None and not iface.is_link_local:
            v6 = iface
    return v4, v6
