"""Forwarding per mode with real traffic: isolated guests reach each other but not the outside, route mode
forwards by subnet both ways without translation, two networks are kept apart, VLANs on one bridge are
separated, and restarting a network's pieces (the agent's converge) repairs a flushed ruleset."""

from __future__ import annotations

import pytest
from netkit import UPLINK_HOST, UPLINK_OUTSIDE, World

from guestwall.errors import DataplaneError
from guestwall.networks import links, service
from guestwall.networks.runtime import converge
from netns_fixtures import needs_netns

pytestmark = needs_netns


def _net(name: str, bridge: str, third: int, forward: str = "", extra: str = "") -> str:
    return f"""<network><name>{name}</name>{forward}<bridge name='{bridge}' stp='off'/>{extra}
  <ip address='10.{third}.0.1' prefix='24'><dhcp><range start='10.{third}.0.10' end='10.{third}.0.50'/></dhcp></ip>
</network>"""


def test_isolated_guests_reach_each_other_only(world: World) -> None:
    service.define(world.store, _net("iso", "gwiso0", 81), world.host)
    service.start(world.store, "iso", world.host)
    world.guest("ia", "iso")
    world.guest("ib", "iso")
    a, b = world.dhcp("ia"), world.dhcp("ib")
    assert a and b
    assert world.ping("ia", b)
    world.run(world.guests["ia"], "ip", "route", "replace", "default", "via", "10.81.0.1")
    world.run(world.outside, "ip", "route", "add", "10.81.0.0/24", "via", UPLINK_HOST)
    assert world.tcp_source(world.guests["ia"], world.outside, UPLINK_OUTSIDE) is None
    # with the rules flushed, the isolation is gone; the agent's step restores it
    world.run(world.host, "nft", "flush", "table", "ip", "guestwall")
    assert world.tcp_source(world.guests["ia"], world.outside, UPLINK_OUTSIDE) == a  # routed, not isolated
    with world.store.write() as w:
        assert any("repaired host rules" in x for x in converge(w, world.host).actions)
    assert world.tcp_source(world.guests["ia"], world.outside, UPLINK_OUTSIDE, port=8081) is None


def test_route_mode_by_subnet_and_nat_kept_apart(world: World) -> None:
    service.define(world.store, _net("rt", "gwrt0", 82, "<forward mode='route'/>"), world.host)
    service.define(world.store, _net("nt", "gwnt0", 83, "<forward mode='nat'/>"), world.host)
    service.start(world.store, "rt", world.host)
    service.start(world.store, "nt", world.host)
    world.guest("ra", "rt")
    world.guest("na", "nt")
    r, n = world.dhcp("ra"), world.dhcp("na")
    assert r and n
    world.run(world.outside, "ip", "route", "add", "10.82.0.0/24", "via", UPLINK_HOST)
    # routed: out with its own address, and reachable from outside by subnet
    assert world.tcp_source(world.guests["ra"], world.outside, UPLINK_OUTSIDE) == r
    assert world.tcp_source(world.outside, world.guests["ra"], r) == UPLINK_OUTSIDE
    # the nat guest leaves masqueraded; nothing enters the nat network uninvited, not even from the
    # routed one (as libvirt, a routed subnet accepts what is addressed to it: the nat guest gets there,
    # masqueraded behind the routed bridge's address)
    assert world.tcp_source(world.guests["na"], world.outside, UPLINK_OUTSIDE, port=8082) == UPLINK_HOST
    assert world.tcp_source(world.guests["ra"], world.guests["na"], n, port=8084) is None
    assert world.tcp_source(world.guests["na"], world.guests["ra"], r, port=8083) == "10.82.0.1"


def test_vlans_on_one_bridge_are_separated_or_refused(world: World) -> None:
    groups = """<portgroup name='blue'><vlan><tag id='10'/></vlan></portgroup>
  <portgroup name='red'><vlan><tag id='20'/></vlan></portgroup>"""
    service.define(world.store, _net("vl", "gwvl0", 84, extra=groups), world.host)
    if not links.vlan_filtering_supported(world.host):
        # a kernel without bridge VLAN filtering: the network is refused, nothing claims a separation
        with pytest.raises(DataplaneError, match="no bridge VLAN filtering"):
            service.start(world.store, "vl", world.host)
        assert not links.bridge_present(world.host, "gwvl0")
        assert not service.get(world.store, "vl").active
        return
    service.start(world.store, "vl", world.host)
    world.guest("b1", "vl", "blue", "10.84.0.101/24")
    world.guest("b2", "vl", "blue", "10.84.0.102/24")
    world.guest("r1", "vl", "red", "10.84.0.103/24")
    assert world.ping("b1", "10.84.0.102")
    assert not world.ping("b1", "10.84.0.103")
    assert not world.ping("r1", "10.84.0.102")


def test_isolated_ports_reach_the_host_not_each_other(world: World) -> None:
    service.define(world.store, _net("pi", "gwpi0", 85, extra="<port isolated='yes'/>"), world.host)
    service.start(world.store, "pi", world.host)
    world.guest("p1", "pi", address="10.85.0.101/24")
    world.guest("p2", "pi", address="10.85.0.102/24")
    assert world.ping("p1", "10.85.0.1")
    assert world.ping("p2", "10.85.0.1")
    assert not world.ping("p1", "10.85.0.102")


def test_agent_step_recreates_a_vanished_bridge_and_autostarts(world: World) -> None:
    from guestwall.networks.runtime import converge_store

    service.define(world.store, _net("au", "gwau0", 88), world.host)
    service.set_autostart(world.store, "au", True)
    # the agent starting (after a reboot): autostart networks come up
    assert "started autostart network au" in converge_store(world.store, world.host, autostart=True)
    assert service.get(world.store, "au").active
    world.guest("aa", "au")
    assert world.dhcp("aa")
    # the bridge vanishes (someone deleted it): recreated with its address, dnsmasq serves again
    links.remove_bridge(world.host, "gwau0")
    actions = converge_store(world.store, world.host)
    assert "recreated bridge gwau0 of network au" in actions
    service.attach(world.store, "au", "aa", None, world.host)
    world.run(world.guests["aa"], "ip", "addr", "flush", "dev", "eth0")
    assert world.dhcp("aa")
    assert converge_store(world.store, world.host) == ()  # converged: nothing more to do


def test_start_refuses_a_bridge_name_someone_else_uses(world: World) -> None:
    from pyroute2 import IPRoute

    from guestwall.errors import NetworkError

    with IPRoute(netns=world.host) as ipr:
        ipr.link("add", ifname="gwtheirs0", kind="bridge")
    service.define(world.store, _net("th", "gwtheirs0", 89), world.host)
    with pytest.raises(NetworkError, match="Unable to create bridge gwtheirs0: it already exists"):
        service.start(world.store, "th", world.host)
    assert links.bridge_present(world.host, "gwtheirs0")  # theirs, left alone
    assert not service.get(world.store, "th").active
