"""Floating IPs with real traffic: reachable from outside, the guest's own traffic leaves from the floating
address, a neighbour of the same network reaches it through the floating address (hairpin), the address is
bound and announced with a gratuitous ARP, and deleting it removes all of that."""

from __future__ import annotations

import socket

import pytest
from netkit import UPLINK_HOST, UPLINK_OUTSIDE, World

from guestwall.lab.netns import netns_socket
from guestwall.networks import floating, service
from netns_fixtures import needs_netns

pytestmark = needs_netns
FLOAT = "198.51.100.50"

NAT = """<network><name>fn</name><forward mode='nat'/><bridge name='gwfn0' stp='off'/>
  <ip address='10.86.0.1' prefix='24'/></network>"""


def test_floating_ip_in_out_hairpin_and_delete(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUESTWALL_METADATA", f"{UPLINK_OUTSIDE}:8775")  # the metadata service, outside
    service.define(world.store, NAT, world.host)
    service.start(world.store, "fn", world.host)
    g1 = world.guest("f1", "fn", address="10.86.0.11/24")
    g2 = world.guest("f2", "fn", address="10.86.0.12/24")
    for ns in (g1, g2):
        world.run(ns, "ip", "route", "add", "default", "via", "10.86.0.1")
    arp = netns_socket(world.outside, socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
    arp.settimeout(2)
    try:
        floating.create(world.store, FLOAT, "10.86.0.11", "uplink", world.host)
        frame = arp.recv(128)
    finally:
        arp.close()
    assert frame[28:32] == socket.inet_aton(FLOAT) and frame[38:42] == socket.inet_aton(FLOAT)  # gratuitous
    assert FLOAT in world.run(world.host, "ip", "-br", "addr", "show", "uplink").stdout

    assert world.tcp_source(world.outside, g1, FLOAT) == UPLINK_OUTSIDE  # in: DNAT to the guest
    assert (
        world.tcp_source(g1, world.outside, UPLINK_OUTSIDE, port=8081) == FLOAT
    )  # out: from the floating IP
    assert world.tcp_source(g2, world.outside, UPLINK_OUTSIDE, port=8082) == UPLINK_HOST  # others masquerade
    assert world.tcp_source(g2, g1, FLOAT, port=8083) == "10.86.0.1"  # hairpin, through the host
    assert [r.address for r in floating.listing(world.store)] == [FLOAT]
    # 169.254.169.254:80 from a guest reaches the configured endpoint
    assert world.tcp_source(g2, world.outside, "169.254.169.254", port=8775, connect_port=80) == UPLINK_HOST

    floating.delete(world.store, FLOAT, world.host)
    assert FLOAT not in world.run(world.host, "ip", "-br", "addr", "show", "uplink").stdout
    assert world.tcp_source(world.outside, g1, FLOAT, port=8084) is None
    assert world.tcp_source(g1, world.outside, UPLINK_OUTSIDE, port=8085) == UPLINK_HOST
