"""Leases follow their ports: a guest whose veth leaves the bridge, or whose binding is deleted, loses its
lease at the next convergence (real dnsmasq, busybox udhcpc), so a pool of one address serves the next
guest; a guest that stays keeps its lease."""

from __future__ import annotations

import time

from netkit import World

from guestwall.networks import dnsmasq, service
from guestwall.networks.runtime import converge_store
from netns_fixtures import needs_netns

pytestmark = needs_netns

ONE = """<network>
  <name>one</name>
  <bridge name='gwone0'/>
  <ip address='10.78.0.1' prefix='24'>
    <dhcp>
      <range start='10.78.0.100' end='10.78.0.100'/>
    </dhcp>
  </ip>
</network>
"""


def _mac(world: World, guest: str) -> str:
    out = world.run(world.guests[guest], "cat", "/sys/class/net/eth0/address").stdout
    return out.strip().lower()


def _leased(world: World) -> dict[str, str]:
    _, leases = service.dhcp_leases(world.store, "one", world.host)
    return {lease.mac: lease.ip for lease in leases}


def _wait_released(world: World, mac: str) -> None:
    """dnsmasq rewrites its lease file once it handled the DHCPRELEASE."""
    for _ in range(100):
        if mac not in _leased(world):
            return
        time.sleep(0.05)
    raise AssertionError(f"the lease of {mac} is still listed: {_leased(world)}")


def _binding(portdev: str, mac: str) -> str:
    return (
        f"<filterbinding><owner><name>{portdev}</name><uuid>00000000-0000-4000-8000-000000000078</uuid>"
        f"</owner><portdev name='{portdev}'/><mac address='{mac}'/>"
        "<filterref filter='clean-traffic'/></filterbinding>\n"
    )


def test_a_removed_port_releases_its_lease_and_the_address_is_handed_out_again(world: World) -> None:
    service.define(world.store, ONE, world.host)
    service.start(world.store, "one", world.host)
    world.guest("pa", "one")
    world.guest("pb", "one")
    mac_a = _mac(world, "pa")
    assert world.dhcp("pa") == "10.78.0.100"
    assert converge_store(world.store, world.host) == ()  # the owner is recorded, nothing released
    assert world.dhcp("pb") is None  # the pool's one address is taken
    # a port that stays keeps its lease however often the network converges
    assert converge_store(world.store, world.host) == ()
    assert _leased(world) == {mac_a: "10.78.0.100"}

    world.run(world.host, "ip", "link", "del", "pa")  # the guest's port goes (its veth pair with it)
    actions = converge_store(world.store, world.host)
    assert actions == (f"released lease 10.78.0.100 ({mac_a}) of pa (port gone) in network one",)
    _wait_released(world, mac_a)
    assert world.dhcp("pb") == "10.78.0.100"  # handed out again
    assert _leased(world) == {_mac(world, "pb"): "10.78.0.100"}


def test_a_deleted_binding_releases_its_lease_a_moved_guest_keeps_it(world: World) -> None:
    service.define(world.store, ONE, world.host)
    service.start(world.store, "one", world.host)
    world.guest("pc", "one")
    mac = _mac(world, "pc")
    with world.store.write() as w:
        w.add_binding("pc", "clean-traffic", _binding("pc", mac))
    assert world.dhcp("pc") == "10.78.0.100"
    assert converge_store(world.store, world.host) == ()
    # the guest is restarted on a new port with the same MAC: the lease moves with it, nothing is released
    world.run(world.host, "ip", "link", "set", "pc", "nomaster")
    world.guest("pd", "one")
    world.run(world.guests["pd"], "ip", "link", "set", "eth0", "address", mac)
    assert world.dhcp("pd") == "10.78.0.100"
    with world.store.write() as w:
        w.delete_binding("pc")
        w.add_binding("pd", "clean-traffic", _binding("pd", mac))
    assert converge_store(world.store, world.host) == ()
    assert _leased(world) == {mac: "10.78.0.100"}

    with world.store.write() as w:  # the port's binding is deleted (the guest's interface went)
        w.delete_binding("pd")
    actions = converge_store(world.store, world.host)
    assert actions == (f"released lease 10.78.0.100 ({mac}) of pd (port gone) in network one",)
    _wait_released(world, mac)
    assert dnsmasq.leases(dnsmasq.paths(world.host, "one")) == []
