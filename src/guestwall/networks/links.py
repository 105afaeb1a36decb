"""A network's bridge on the host, through pyroute2 (netlink; no ``ip`` commands): created with its STP,
forward delay, MTU, MAC and addresses, VLAN filtering when portgroups carry VLANs; guest ports attached
with their VLAN (untagged, as the port's PVID) and libvirt's ``<port isolated='yes'/>`` flag.

Nova's linux_net made one ``vlanN`` device and one ``brN`` bridge per VLAN; here one VLAN-filtering
bridge separates them by per-port VLAN ids (docs/networks.md).
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from guestwall.errors import DataplaneError, NetworkError
from guestwall.networks.model import Network

IFA_F_NODAD = 0x02


@contextmanager
def _ipr(netns: str | None) -> Iterator[Any]:
    try:
        ipr = IPRoute(netns=netns) if netns else IPRoute()
    except (OSError, NetlinkError) as e:
        raise DataplaneError(f"cannot reach network namespace {netns or 'of this process'}: {e}") from e
    try:
        yield ipr
    except NetlinkError as e:
        raise DataplaneError(f"netlink refused a change in {netns or 'this namespace'}: {e}") from e
    finally:
        ipr.close()


def _index(ipr: Any, name: str) -> int | None:
    """One link by name (RTM_GETLINK for that name: not a dump of every link, so the cost does not grow
    with the guests' ports on the host)."""
    try:
        found = ipr.link("get", ifname=name)
    except NetlinkError as e:
        if e.code == errno.ENODEV:
            return None
        raise
    return int(found[0]["index"]) if found else None


def bridge_present(netns: str | None, name: str) -> bool:
    with _ipr(netns) as ipr:
        return _index(ipr, name) is not None


def link_names(netns: str | None) -> set[str]:
    with _ipr(netns) as ipr:
        return {str(link.get("ifname")) for link in ipr.get_links()}


def ensure_bridge(netns: str | None, net: Network, adopt: bool = True) -> bool:
    """The network's bridge exists, up, with its addresses; True when something had to be done. Without
    ``adopt`` an existing device of that name is an error (a network start never takes over, and later
    deletes, someone else's device)."""
    changed = False
    name = net.bridge_name
    with _ipr(netns) as ipr:
        index = _index(ipr, name)
        if index is not None and not adopt:
            raise NetworkError(f"Unable to create bridge {name}: it already exists", "internal error")
        if index is None:
            attrs: dict[str, Any] = {
                "ifname": name,
                "kind": "bridge",
                "br_stp_state": 1 if net.bridge.stp else 0,
                "br_forward_delay": net.bridge.delay * 100,  # centiseconds
            }
            if net.vlan_filtering:
                attrs["br_vlan_filtering"] = 1
            if net.mac:
                attrs["address"] = net.mac
            try:
                ipr.link("add", **attrs)
            except NetlinkError as e:
                if e.code == errno.EOPNOTSUPP and net.vlan_filtering:
                    raise DataplaneError(
                        f"cannot create bridge {name} with VLAN filtering for the VLANs of network "
                        f"'{net.name}': this kernel has no bridge VLAN filtering"
                    ) from e
                raise
            index = _index(ipr, name)
            assert index is not None
            if net.mtu:
                ipr.link("set", index=index, mtu=net.mtu)
            changed = True
        have = {(a.get_attr("IFA_ADDRESS"), a["prefixlen"]) for a in ipr.get_addr(index=index)}
        for ip in net.ips:
            key = (str(ip.address.ip), ip.address.network.prefixlen)
            if key not in have:
                family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
                flags = IFA_F_NODAD if ip.version == 6 else 0
                ipr.addr("add", index=index, address=key[0], prefixlen=key[1], family=family, flags=flags)
                changed = True
        link = ipr.get_links(index)[0]
        if link.get("state") != "up" and not link["flags"] & 1:
            ipr.link("set", index=index, state="up")
            changed = True
    return changed


def remove_bridge(netns: str | None, name: str) -> bool:
    with _ipr(netns) as ipr:
        index = _index(ipr, name)
        if index is None:
            return False
        ipr.link("del", index=index)
        return True


def attach_port(
    netns: str | None, bridge: str, port: str, vlan: int | None = None, isolated: bool = False
) -> None:
    """Put a guest's host-side port on the bridge, untagged in ``vlan`` (its only VLAN) when given."""
    with _ipr(netns) as ipr:
        br, dev = _index(ipr, bridge), _index(ipr, port)
        if br is None or dev is None:
            raise DataplaneError(
                f"cannot attach {port} to {bridge}: {bridge if br is None else port} does not exist"
            )
        ipr.link("set", index=dev, master=br, state="up")
        if vlan is not None:
            ipr.vlan_filter("del", index=dev, vlan_info={"vid": 1})
            ipr.vlan_filter("add", index=dev, vlan_info={"vid": vlan, "flags": ["pvid", "untagged"]})
        if isolated:
            ipr.brport("set", index=dev, isolated=1)


def vlan_filtering_supported(netns: str | None) -> bool:
    """Whether this kernel can make VLAN-filtering bridges (probed with a throw-away bridge)."""
    probe = "gwvlanprobe"
    with _ipr(netns) as ipr:
        try:
            ipr.link("add", ifname=probe, kind="bridge", br_vlan_filtering=1)
        except NetlinkError:
            return False
        index = _index(ipr, probe)
        if index is not None:
            ipr.link("del", index=index)
        return True


def bind_address(netns: str | None, interface: str, address: str) -> None:
    """The floating address as a /32 on the public interface (linux_net's bind_floating_ip)."""
    with _ipr(netns) as ipr:
        index = _index(ipr, interface)
        if index is None:
            raise DataplaneError(f"interface {interface} does not exist")
        have = {a.get_attr("IFA_ADDRESS") for a in ipr.get_addr(index=index)}
        if address not in have:
            ipr.addr("add", index=index, address=address, prefixlen=32)


def unbind_address(netns: str | None, interface: str, address: str) -> None:
    with _ipr(netns) as ipr:
        index = _index(ipr, interface)
        if index is None:
            return
        have = {a.get_attr("IFA_ADDRESS") for a in ipr.get_addr(index=index)}
        if address in have:
            ipr.addr("del", index=index, address=address, prefixlen=32)


NUD_PERMANENT = 0x80


def bridge_ports(netns: str | None, bridge: str) -> tuple[set[str], dict[str, str]]:
    """The ports enslaved to ``bridge`` and the guest MACs it learned on them (dynamic FDB entries:
    MAC → port name). Empty when the bridge is missing."""
    with _ipr(netns) as ipr:
        br = _index(ipr, bridge)
        if br is None:
            return set(), {}
        ports = {
            int(link["index"]): str(link.get_attr("IFLA_IFNAME"))
            for link in ipr.get_links()
            if link.get_attr("IFLA_MASTER") == br
        }
        learned = {}
        for entry in ipr.fdb("dump"):
            port = ports.get(int(entry["ifindex"]))
            mac = entry.get_attr("NDA_LLADDR")
            if port is not None and mac and not entry["state"] & NUD_PERMANENT:
                learned[str(mac).lower()] = port
    return set(ports.values()), learned
