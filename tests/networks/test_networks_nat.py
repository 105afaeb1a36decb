"""A nat network end to end: real dnsmasq, real DHCP clients, names, masquerading, leases kept across a
dnsmasq restart, the lease listing, net-update of a fixed host."""

from __future__ import annotations

import os
import signal
import time

from netkit import UPLINK_HOST, UPLINK_OUTSIDE, World

from guestwall.networks import dnsmasq, service
from guestwall.networks.runtime import converge
from netns_fixtures import needs_netns

pytestmark = needs_netns

NAT = """<network>
  <name>natnet</name>
  <forward mode='nat' dev='uplink'/>
  <bridge name='gwnat0'/>
  <domain name='lab.test'/>
  <ip address='10.77.0.1' prefix='24'>
    <dhcp>
      <range start='10.77.0.100' end='10.77.0.150'/>
      <host mac='52:54:00:77:00:02' name='fixed' ip='10.77.0.20'/>
    </dhcp>
  </ip>
</network>
"""


def test_nat_guests_get_leases_names_and_leave_masqueraded(world: World) -> None:
    service.define(world.store, NAT, world.host)
    service.start(world.store, "natnet", world.host)
    world.guest("ga", "natnet")
    gb = world.guest("gb", "natnet")
    world.run(gb, "ip", "link", "set", "eth0", "address", "52:54:00:77:00:02")

    a = world.dhcp("ga", hostname="alpha")
    b = world.dhcp("gb", hostname="beta")
    assert a is not None and a.startswith("10.77.0.1")
    assert b == "10.77.0.20"  # the fixed host
    # names: dnsmasq answers for its guests
    looked = world.run(gb, "busybox", "nslookup", "alpha", "10.77.0.1", check=False).stdout
    assert a in looked
    # out through the uplink, seen from the outside as the host's address; nothing comes in uninvited
    assert world.tcp_source(world.guests["ga"], world.outside, UPLINK_OUTSIDE) == UPLINK_HOST
    world.run(world.outside, "ip", "route", "add", "10.77.0.0/24", "via", UPLINK_HOST)
    assert world.tcp_source(world.outside, world.guests["ga"], a) is None
    # guest to guest on the bridge
    assert world.ping("ga", b)

    _, leases = service.dhcp_leases(world.store, "natnet", world.host)
    assert {(lease.ip, lease.hostname) for lease in leases} >= {
        (a, "alpha"),
        (b, "fixed"),
    }  # the hosts entry names it

    # a dead dnsmasq comes back (the agent's step) with its leases: the same address again
    p = dnsmasq.paths(world.host, "natnet")
    pid = dnsmasq.running(p)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    with world.store.write() as w:
        done = converge(w, world.host)
    assert "started dnsmasq of network natnet" in done.actions
    assert world.dhcp("ga", hostname="alpha") == a


def test_update_dhcp_host_live_reloads_and_releases(world: World) -> None:
    service.define(world.store, NAT, world.host)
    service.start(world.store, "natnet", world.host)
    gb = world.guest("gb", "natnet")
    world.run(gb, "ip", "link", "set", "eth0", "address", "52:54:00:77:00:03")
    first = world.dhcp("gb")
    assert first is not None and first.startswith("10.77.0.1")
    host = "<host mac='52:54:00:77:00:03' name='late' ip='10.77.0.30'/>"
    result = service.update(world.store, "natnet", "add", "ip-dhcp-host", host, netns=world.host)
    assert result.live and not result.config
    world.run(gb, "ip", "addr", "flush", "dev", "eth0")
    assert world.dhcp("gb") == "10.77.0.30"
    service.update(world.store, "natnet", "delete", "ip-dhcp-host", host, netns=world.host)
    p = dnsmasq.paths(world.host, "natnet")
    assert not (p.hostsdir / "525400770003").exists()
    # the deleted host's lease was released: dnsmasq rewrites its lease file without it
    for _ in range(50):
        if all(lease.ip != "10.77.0.30" for lease in dnsmasq.leases(p)):
            break
        time.sleep(0.05)
    assert all(lease.ip != "10.77.0.30" for lease in dnsmasq.leases(p))
