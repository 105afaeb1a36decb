"""IP address learning with real frames (libvirt's CTRL_IP_LEARNING): a guest with a static address is
locked to it after its first packet; a guest using DHCP (dnsmasq) is locked to its lease; spoofed addresses
are dropped before and after; learned addresses survive an agent restart; leases expire."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import agentkit
from agentkit import STORES, Dnsmasq, Host, dhcp_ack, dhcp_lease, wait_until

from guestwall.lab.traffic import frames, send
from netns_fixtures import needs_netns

pytestmark = needs_netns

CONFIG = '[ports]\nguest_patterns = ["vnet*"]\n'


def row(host: Host, portdev: str) -> dict[str, Any]:
    return next(r for r in host.status() if r["portdev"] == portdev)


def udp_from(host: Host, sender: str, source_ip: str, to: str = "alice") -> Any:
    s, t = host.lab[sender], host.lab[to]
    return frames.udp4(s.mac, t.mac, ip_src=source_ip, ip_dst=t.ipv4)


def arrives(host: Host, sender: str, frame: Any, to: str = "alice") -> bool:
    return agentkit.arrives(host.lab, sender, frame, to)


def gets_through(host: Host, sender: str, frame: Any, to: str = "alice") -> bool:
    return agentkit.gets_through(host.lab, sender, frame, to)


def test_static_guest_is_locked_to_its_address_after_its_first_packet(make_host: Callable[..., Host]) -> None:
    host = make_host(guests=5, config=CONFIG)
    lab = host.lab
    dave = lab["dave"]
    host.bind([g for g in lab.guests if g.name != "dave"])
    host.bind([dave], params={"dave": {}})  # no IP: learned (CTRL_IP_LEARNING defaults to any)
    agent = host.start_agent()
    agent.wait_log(r"learning the IP address of vnet3 \(any\)")
    assert row(host, "vnet3")["enforcement"] == "learning IP address (any): interim rules"
    forged_mac = frames.udp4(
        "52:54:00:66:66:66", lab["alice"].mac, ip_src=dave.ipv4, ip_dst=lab["alice"].ipv4
    )
    assert not arrives(host, "dave", forged_mac)  # the interim rules keep the guest on its own MAC

    # its first packet: an ordinary ARP request for a neighbour, from its own address
    send(lab, "dave", [frames.arp(dave.mac, op="who-has", psrc=dave.ipv4, pdst=lab["alice"].ipv4)])
    agent.wait_log(rf"learned {dave.ipv4} on vnet3 \(arp\)")
    learned = row(host, "vnet3")
    assert learned["learned"] == [dave.ipv4] and learned["enforcement"] == "shared"
    assert (
        learned["learned_detail"][0]["source"] == "arp" and learned["learned_detail"][0]["expires_at"] is None
    )

    def locked() -> None:
        assert gets_through(host, "dave", udp_from(host, "dave", dave.ipv4))
        assert not arrives(host, "dave", udp_from(host, "dave", lab["alice"].ipv4))
        alice = lab["alice"]
        assert not arrives(
            host, "dave", frames.arp(dave.mac, op="is-at", psrc=alice.ipv4, pdst=alice.ipv4, dst=alice.mac)
        )
        assert not arrives(host, "dave", forged_mac)

    wait_until(lambda: arrives(host, "dave", udp_from(host, "dave", dave.ipv4)), 2, what="the full filter")
    locked()

    agent.stop()
    again = host.start_agent()
    assert "converged (start): no change" in again.log()
    assert "learning the IP address of vnet3" not in again.log()  # any: one address, kept in the store
    assert row(host, "vnet3")["learned"] == [dave.ipv4]
    locked()


@STORES
def test_dhcp_guest_is_locked_to_its_lease(make_host: Callable[..., Host], store: str) -> None:
    host = make_host(guests=5, config=CONFIG, store=store)
    lab = host.lab
    carol = lab["carol"]
    host.bind([g for g in lab.guests if g.name != "carol"])
    host.bind([carol], params={"carol": {"CTRL_IP_LEARNING": "dhcp", "DHCPSERVER": lab.bridge_ipv4}})
    agent = host.start_agent()
    agent.wait_log(r"learning the IP address of vnet2 \(dhcp\)")
    server = Dnsmasq(lab, host.workdir, "10.77.0.100", "10.77.0.150")
    try:
        # before a lease: nothing but DHCP, whatever address the guest claims
        for address in (carol.ipv4, "10.77.0.120", lab["alice"].ipv4):
            assert not arrives(host, "carol", udp_from(host, "carol", address))
        assert not arrives(
            host, "carol", frames.arp(carol.mac, op="who-has", psrc=carol.ipv4, pdst=lab["alice"].ipv4)
        )

        leased, server_id = dhcp_lease(lab, "carol")
        assert server_id == lab.bridge_ipv4
        agent.wait_log(rf"learned {leased} on vnet2 \(dhcp, until ")
        detail = row(host, "vnet2")["learned_detail"]
        assert [d["ip"] for d in detail] == [leased] and detail[0]["expires_at"] is not None

        def locked() -> None:
            assert gets_through(host, "carol", udp_from(host, "carol", leased))
            for spoofed in (carol.ipv4, lab["alice"].ipv4, "10.77.0.149"):
                assert not arrives(host, "carol", udp_from(host, "carol", spoofed))

        wait_until(lambda: arrives(host, "carol", udp_from(host, "carol", leased)), 2, what="the full filter")
        locked()

        # an ACK from a server that is not trusted (eve, with her own address) reaches carol but is no lease
        send(lab, "eve", [dhcp_ack(lab["eve"], carol, "10.77.0.99", 600)])
        time.sleep(0.5)
        assert row(host, "vnet2")["learned"] == [leased]

        agent.stop()
        again = host.start_agent()
        assert "converged (start): no change" in again.log()
        again.wait_log(r"learning the IP address of vnet2 \(dhcp\)")  # dhcp: renewals and new leases count
        assert row(host, "vnet2")["learned"] == [leased]
        locked()
    finally:
        server.stop()


def test_leases_expire_and_the_interim_rules_return(make_host: Callable[..., Host]) -> None:
    host = make_host(guests=5, config=CONFIG)
    lab = host.lab
    bob, dave = lab["bob"], lab["dave"]
    host.bind([g for g in lab.guests if g.name != "dave"])
    host.bind([dave], params={"dave": {"CTRL_IP_LEARNING": "dhcp", "DHCPSERVER": bob.ipv4}})  # bob serves
    agent = host.start_agent()
    agent.wait_log(r"learning the IP address of vnet3 \(dhcp\)")
    send(lab, "bob", [dhcp_ack(bob, dave, "10.77.0.130", 2)])
    agent.wait_log(r"learned 10.77.0.130 on vnet3 \(dhcp, until ")
    wait_until(
        lambda: arrives(host, "dave", udp_from(host, "dave", "10.77.0.130")), 2, what="the full filter"
    )
    agent.wait_log(r"1 lease\(s\) expired", timeout=5)
    assert row(host, "vnet3")["learned"] == []
    assert row(host, "vnet3")["enforcement"] == "learning IP address (dhcp): interim rules"
    assert not arrives(host, "dave", udp_from(host, "dave", "10.77.0.130"))
