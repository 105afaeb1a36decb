"""The network use cases (virsh's net-* commands and the agent's): each is one store transaction, the
kernel changed inside it (through the engine, ``changes.networks_changed``), so a failure leaves both as
they were. ``engine``: the caller's (the CLI's, the agent's); by default one for ``netns``.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace
from ipaddress import IPv4Address, ip_address

from guestwall.engine import Engine, networks_changed, open_engine
from guestwall.errors import ConflictError, NetworkError, NetworkStateError
from guestwall.networks import dnsmasq, links
from guestwall.networks.defaults import fill_defaults
from guestwall.networks.desired import active_networks
from guestwall.networks.model import Dhcp, DhcpHost, Network
from guestwall.networks.runtime import bring_up, check_overlap, live_definition, tear_down
from guestwall.networks.xml import format_network, parse_host, parse_network
from guestwall.nwfilter.safexml import parse_xml
from guestwall.store.netrepo import NetRepo, NetworkRecord
from guestwall.store.records import Store


def define(store: Store, xml: str | bytes, netns: str | None = None) -> Network:
    """Define (or redefine: the persistent definition only) a network."""
    net = parse_network(xml)
    with store.write() as w:
        repo = NetRepo(w)
        old = repo.find(net.name)
        if net.uuid is not None:
            by_uuid = repo.find(net.uuid)
            if by_uuid is not None and by_uuid.name != net.name:
                raise ConflictError(f"network '{by_uuid.name}' is already defined with uuid {net.uuid}")
        if old is not None and net.uuid is not None and old.uuid != net.uuid:
            raise ConflictError(f"network '{net.name}' already exists with uuid {old.uuid}")
        if old is not None:
            net = replace(net, uuid=old.uuid)
            if net.bridge.name is None:
                net = replace(net, bridge=replace(net.bridge, name=old.bridge))
        taken = {r.bridge for r in repo.networks() if r.name != net.name}
        net = fill_defaults(net, taken | (links.link_names(netns) if net.bridge.name is None else set()))
        if net.bridge_name in taken:
            raise NetworkError(f"bridge name '{net.bridge_name}' already in use.", "internal error")
        assert net.uuid is not None
        live = old.live_xml if old is not None else None
        repo.put(
            NetworkRecord(
                net.name,
                net.uuid,
                net.bridge_name,
                format_network(net),
                live,
                old.autostart if old else False,
            )
        )
    return net


def undefine(store: Store, name: str, netns: str | None = None) -> str:
    with store.write() as w:
        repo = NetRepo(w)
        rec = repo.get(name)
        if rec.active:
            repo.put(replace(rec, xml=None, autostart=False))  # transient until destroyed (libvirt)
        else:
            repo.delete(rec.name)
            shutil.rmtree(dnsmasq.paths(netns, rec.name).dir, ignore_errors=True)
        return rec.name


def start(store: Store, name: str, netns: str | None = None, *, engine: Engine | None = None) -> str:
    with store.write() as w:
        repo = NetRepo(w)
        rec = repo.get(name)
        if rec.active:
            raise NetworkStateError("network is already active")
        assert rec.xml is not None
        net = live_definition(parse_network(rec.xml))
        check_overlap(net, active_networks(repo))
        repo.put(replace(rec, live_xml=format_network(net)))
        bring_up(netns, net, adopt=False)  # someone else's device of that name: refused, never adopted
        try:
            (engine or open_engine(netns)).apply(w, networks_changed())
        except BaseException:
            tear_down(netns, net)
            raise
        return rec.name


def destroy(store: Store, name: str, netns: str | None = None, *, engine: Engine | None = None) -> str:
    with store.write() as w:
        repo = NetRepo(w)
        rec = repo.get(name)
        if not rec.active:
            raise NetworkStateError(f"network '{rec.name}' is not active")
        assert rec.live_xml is not None
        net = parse_network(rec.live_xml)
        if rec.persistent:
            repo.put(replace(rec, live_xml=None))
        else:
            repo.delete(rec.name)
        (engine or open_engine(netns)).apply(w, networks_changed())
        tear_down(netns, net, forget=not rec.persistent)
        return rec.name


def set_autostart(store: Store, name: str, enabled: bool) -> str:
    with store.write() as w:
        repo = NetRepo(w)
        rec = repo.get(name)
        if not rec.persistent:
            raise NetworkStateError("cannot set autostart for transient network")
        repo.put(replace(rec, autostart=enabled))
        return rec.name


def get(store: Store, name: str) -> NetworkRecord:
    with store.read() as r:
        return NetRepo(r).get(name)


def records(store: Store) -> list[NetworkRecord]:
    with store.read() as r:
        return NetRepo(r).networks()


# ---- net-update ip-dhcp-host ---------------------------------------------------------------------------

COMMANDS = ("add", "add-first", "add-last", "delete", "modify")


def _same(a: DhcpHost, b: DhcpHost) -> bool:
    return bool((a.mac and a.mac == b.mac) or (a.name and a.name == b.name) or (a.ip and a.ip == b.ip))


def _update_hosts(net: Network, command: str, host: DhcpHost, index: int | None, xml_text: str) -> Network:
    family = 6 if host.ip is not None and host.ip.version == 6 else 4
    candidates = [i for i, ip in enumerate(net.ips) if ip.version == family]
    if index is not None:
        candidates = [index] if 0 <= index < len(net.ips) else []
    if not candidates:
        raise NetworkError(
            f"couldn't update dhcp host entry - no <ip family='ipv{family}'> element found "
            f"in network '{net.name}'",
            "Requested operation is not valid",
        )
    i = candidates[0]
    ip = net.ips[i]
    dhcp = ip.dhcp or Dhcp()
    hosts = list(dhcp.hosts)
    if command in ("add", "add-first", "add-last"):
        if any(_same(host, h) for h in hosts):
            raise NetworkStateError(
                f"there is an existing dhcp host entry in network '{net.name}' that matches \"{xml_text}\""
            )
        hosts.insert(0 if command == "add-first" else len(hosts), host)
    elif command == "modify":
        at = [
            j
            for j, h in enumerate(hosts)
            if (host.mac and h.mac == host.mac) or (not host.mac and host.name and h.name == host.name)
        ]
        if not at:
            raise NetworkStateError(
                f"couldn't locate an existing dhcp host entry with {host.label()} in network '{net.name}'"
            )
        hosts[at[0]] = host
    else:
        at = [
            j
            for j, h in enumerate(hosts)
            if all(
                getattr(host, k) is None or getattr(host, k) == getattr(h, k) for k in ("mac", "name", "ip")
            )
        ]
        if not at:
            raise NetworkStateError(f"couldn't locate a matching dhcp host entry in network '{net.name}'")
        del hosts[at[0]]
    return net.with_ip(i, replace(ip, dhcp=replace(dhcp, hosts=tuple(hosts))))


@dataclass(frozen=True)
class UpdateResult:
    name: str
    live: bool
    config: bool


def update(
    store: Store,
    name: str,
    command: str,
    section: str,
    xml: str,
    *,
    parent_index: int | None = None,
    live: bool = False,
    config: bool = False,
    netns: str | None = None,
) -> UpdateResult:
    """libvirt's net-update for ``ip-dhcp-host``: the persistent and/or live definition; a live change
    rewrites dnsmasq's hosts and reloads it once, and releases the lease of a deleted host."""
    if command not in COMMANDS:
        raise NetworkError(f"unrecognized command '{command}'", "invalid argument")
    if section != "ip-dhcp-host":
        raise NetworkError(
            f"can't update '{section}' section of network: not supported by guestwall",
            "unsupported configuration",
        )
    element = parse_xml(xml, "network update XML")
    if element.tag != "host":
        raise NetworkError(
            f"unexpected element <{element.tag}>, expecting <host>, while updating network '{name}'"
        )
    with store.write() as w:
        repo = NetRepo(w)
        rec = repo.get(name)
        host = parse_host(element, rec.name)
        if not live and not config:
            live, config = (True, False) if rec.active else (False, True)
        if live and not rec.active:
            raise NetworkStateError("network is not running")
        if config and rec.xml is not None:
            rec = replace(
                rec,
                xml=format_network(_update_hosts(parse_network(rec.xml), command, host, parent_index, xml)),
            )
        if live and rec.live_xml is not None:
            net = _update_hosts(parse_network(rec.live_xml), command, host, parent_index, xml)
            rec = replace(rec, live_xml=format_network(net))
            _apply_hosts(netns, net, host if command == "delete" else None)
        repo.put(rec)
        return UpdateResult(rec.name, live, config)


def _apply_hosts(netns: str | None, net: Network, removed: DhcpHost | None) -> None:
    p = dnsmasq.paths(netns, net.name)
    dnsmasq.sync_hosts(net, p)
    if removed is None or removed.mac is None:
        return
    server = net.ipv4()
    for lease in dnsmasq.leases(p):
        if lease.mac == removed.mac and server is not None:
            addr = ip_address(server.address.ip)
            assert isinstance(addr, IPv4Address)
            dnsmasq.release(netns, net.bridge_name, addr, lease)


def dhcp_leases(store: Store, name: str, netns: str | None = None) -> tuple[Network, Sequence[dnsmasq.Lease]]:
    rec = get(store, name)
    net = parse_network(rec.current_xml())
    if not rec.active:
        return net, []
    return net, dnsmasq.leases(dnsmasq.paths(netns, net.name))


def attach(store: Store, name: str, port: str, portgroup: str | None, netns: str | None = None) -> str:
    """A guest port on an active network's bridge, with its portgroup's VLAN and the isolation flag."""
    rec = get(store, name)
    if rec.live_xml is None:
        raise NetworkStateError(f"network '{rec.name}' is not active")
    net = parse_network(rec.live_xml)
    groups = {pg.name: pg for pg in net.portgroups}
    if portgroup is not None and portgroup not in groups:
        raise NetworkError(f"network '{net.name}' has no portgroup '{portgroup}'", "invalid argument")
    chosen = groups.get(portgroup) if portgroup else next((pg for pg in net.portgroups if pg.default), None)
    vlan = chosen.vlan_tags[0] if chosen is not None and chosen.vlan_tags else None
    links.attach_port(netns, net.bridge_name, port, vlan, bool(net.port_isolated))
    return net.name
