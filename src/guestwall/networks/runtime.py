"""A network on the host: bring it up (bridge, dnsmasq), take it down, and converge what runs with what the
store says (the agent's step: a bridge that vanished is recreated, a dead dnsmasq restarted, flushed rules
repaired). The host rules of all networks are applied together: one transaction whatever their number.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from guestwall.dataplane.netns import call_in_netns
from guestwall.engine import Engine, networks_changed, open_engine
from guestwall.errors import DataplaneError, GuestwallError, NetworkError
from guestwall.networks import dnsmasq, leaseports, links
from guestwall.networks.desired import active_networks
from guestwall.networks.model import ForwardMode, Network
from guestwall.networks.xml import format_network, parse_network
from guestwall.store.netrepo import NetRepo, NetworkRecord
from guestwall.store.records import Reader, Store


def live_definition(net: Network) -> Network:
    """What a running network reports: libvirt shows nat's default port range once it runs."""
    if net.forward.mode is ForwardMode.NAT and net.forward.nat.port_start is None:
        nat = replace(net.forward.nat, port_start=1024, port_end=65535)
        return replace(net, forward=replace(net.forward, nat=nat))
    return net


def check_overlap(net: Network, others: Sequence[Network]) -> None:
    for other in others:
        if other.name == net.name:
            continue
        if other.bridge_name == net.bridge_name:
            raise NetworkError(f"bridge name '{net.bridge_name}' already in use.", "internal error")
        for a in net.ips:
            for b in other.ips:
                if a.address.network.overlaps(b.address.network):  # type: ignore[arg-type]
                    raise NetworkError(
                        f"network '{net.name}' ({a.address.network}) overlaps active network "
                        f"'{other.name}' ({b.address.network})",
                        "internal error",
                    )


def enable_forwarding(netns: str | None, net: Network) -> None:
    """As libvirt, a nat or routed network turns on forwarding for its families."""
    if net.forward.mode not in (ForwardMode.NAT, ForwardMode.ROUTE):
        return
    keys = ["net/ipv4/ip_forward"] if net.ipv4() else []
    keys += ["net/ipv6/conf/all/forwarding"] if any(ip.version == 6 for ip in net.ips) else []

    def write() -> None:
        for key in keys:
            with open(f"/proc/sys/{key}", "w") as f:
                f.write("1\n")

    call_in_netns(netns, write)


def bring_up(netns: str | None, net: Network, adopt: bool = True) -> None:
    """Bridge, addresses and dnsmasq; on failure what was made is removed again."""
    enable_forwarding(netns, net)
    made_bridge = links.ensure_bridge(netns, net, adopt)
    try:
        ensure_dnsmasq(netns, net)
    except BaseException:
        if made_bridge:
            links.remove_bridge(netns, net.bridge_name)
        raise


def ensure_dnsmasq(netns: str | None, net: Network, restart: bool = False) -> bool:
    """dnsmasq runs with the current files; True when it had to be (re)started (``restart``: in any case,
    e.g. its bridge was recreated under it)."""
    if not dnsmasq.needs_dnsmasq(net):
        return False
    p = dnsmasq.paths(netns, net.name)
    try:
        conf_before = p.conf.read_text() if p.conf.exists() else None
        dnsmasq.write_files(net, p)
        conf_after = p.conf.read_text()
    except OSError as e:
        raise DataplaneError(f"cannot write dnsmasq's files of network {net.name} in {p.dir}: {e}") from None
    pid = dnsmasq.running(p)
    if pid is not None and conf_before == conf_after and not restart:
        return False
    if pid is not None:
        dnsmasq.stop(p)
    dnsmasq.start(netns, p)
    return True


def tear_down(netns: str | None, net: Network, forget: bool = False) -> None:
    p = dnsmasq.paths(netns, net.name)
    dnsmasq.stop(p)
    links.remove_bridge(netns, net.bridge_name)
    if forget:
        shutil.rmtree(p.dir, ignore_errors=True)


@dataclass(frozen=True)
class Converged:
    actions: tuple[str, ...]


def converge(
    txn: Reader,
    netns: str | None,
    *,
    autostart: bool = False,
    engine: Engine | None = None,
    bound: Mapping[str, str] | None = None,
) -> Converged:
    """Make the host match the store: every active network's bridge and dnsmasq present, the rules applied
    (by ``engine``, else one for ``netns``); with ``autostart`` (agent start-up, as libvirtd at boot)
    inactive autostart networks are started. With ``bound`` (MAC → port device of the store's bindings)
    the leases of guests whose port went are released (networks.leaseports)."""
    repo = NetRepo(txn)
    actions: list[str] = []
    records: list[NetworkRecord] = repo.networks()
    for rec in records:
        if rec.live_xml is None:
            if autostart and rec.autostart and rec.xml is not None:
                net = live_definition(parse_network(rec.xml))
                check_overlap(net, active_networks(repo))
                bring_up(netns, net)
                repo.put(replace(rec, live_xml=format_network(net)))
                actions.append(f"started autostart network {rec.name}")
            continue
        net = parse_network(rec.live_xml)
        recreated = links.ensure_bridge(netns, net)
        if recreated:
            actions.append(f"recreated bridge {net.bridge_name} of network {net.name}")
        if ensure_dnsmasq(netns, net, restart=recreated):
            actions.append(f"started dnsmasq of network {net.name}")
        if bound is not None and dnsmasq.needs_dnsmasq(net):
            gone = leaseports.follow_ports(netns, net, bound)
            actions += [f"released lease {what} (port gone) in network {net.name}" for what in gone]
    result = (engine or open_engine(netns)).apply(txn, networks_changed())
    if result.changed:
        actions.append(f"repaired host rules ({len(result.transaction.commands)} commands)")
    return Converged(tuple(actions))


def converge_store(
    store: Store, netns: str | None, *, autostart: bool = False, engine: Engine | None = None
) -> tuple[str, ...]:
    """The agent's step (with its engine): nothing to do (and no transaction) without networks; a write
    transaction only when autostart networks are to be started."""
    from guestwall.store.sqlstore import SqlStore

    if not isinstance(store, SqlStore):
        return ()
    with store.read() as r:
        repo = NetRepo(r)
        if not repo.networks() and not repo.floating_ips():
            return ()
        bound = bound_macs(r)
        pending = autostart and any(n.autostart and not n.active for n in repo.networks())
        if not pending:
            return converge(r, netns, engine=engine, bound=bound).actions
    with store.write() as w:
        return converge(w, netns, autostart=True, engine=engine, bound=bound).actions


def bound_macs(reader: Reader) -> dict[str, str]:
    """MAC → port device of every binding (libvirt's and the cloud ports')."""
    out = {}
    for b in reader.bindings():
        try:
            out[str(b.binding.mac)] = b.portdev
        except GuestwallError:
            continue  # a binding the engine reports on its own
    return out
