"""IPv6 on a network: router advertisements and DHCPv6 from the network's dnsmasq, to a real DHCPv6 client
(ISC dhclient -6), and IPv6 forwarding out of the network (routed, as libvirt routes IPv6 of nat)."""

from __future__ import annotations

import re
import time

from netkit import World

from guestwall.lab.netns import write_sysctl
from guestwall.networks import service
from netns_fixtures import needs_netns

pytestmark = needs_netns

NET6 = """<network><name>v6</name><forward mode='nat'/><bridge name='gwv60' stp='off'/>
  <ip address='10.90.0.1' prefix='24'/>
  <ip family='ipv6' address='fd00:90::1' prefix='64'>
    <dhcp><range start='fd00:90::100' end='fd00:90::1ff'/></dhcp>
  </ip>
</network>"""


def test_dhcpv6_lease_from_the_networks_dnsmasq(world: World) -> None:
    service.define(world.store, NET6, world.host)
    service.start(world.store, "v6", world.host)
    ns = world.guest("s6", "v6")
    write_sysctl(ns, "net.ipv6.conf.eth0.accept_dad", 0)
    for _ in range(50):  # dhclient needs a usable link-local address (DAD may still be running)
        if not world.run(ns, "ip", "-6", "addr", "show", "dev", "eth0", "tentative").stdout.strip():
            break
        time.sleep(0.1)
    lease = world.tmp / "dhclient6.leases"
    world.run(
        ns,
        "dhclient",
        "-6",
        "-1",
        "-sf",
        "/bin/true",
        "-lf",
        str(lease),
        "-pf",
        str(world.tmp / "dhclient6.pid"),
        "eth0",
        check=False,
        timeout=40,
    )
    found = re.findall(r"iaaddr (fd00:90::1[0-9a-f]{2})", lease.read_text() if lease.exists() else "")
    assert found, "no DHCPv6 address in range"
    _, leases = service.dhcp_leases(world.store, "v6", world.host)
    assert [lease.ip for lease in leases if lease.version == 6] == found[:1]
