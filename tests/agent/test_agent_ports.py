"""Ports that appear and disappear while the agent runs; guest ports without a binding fail closed (dropped,
or only what the configured default filter allows, with the guest's MAC); the CLI builds the same state."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from agentkit import Host, add_port, arrives, gets_through, new_guest, remove_port, wait_until

from guestwall.lab import Lab
from guestwall.lab.traffic import frames, send
from netns_fixtures import needs_netns

pytestmark = needs_netns

DROP = '[ports]\nguest_patterns = ["vnet*"]\nunbound = "drop"\n'
DEFAULT_FILTER = (
    '[ports]\nguest_patterns = ["vnet*"]\nunbound = "filter"\ndefault_filter = "no-mac-spoofing"\n'
)


def genuine(lab: Lab, sender: str, to: str) -> Any:
    s, t = lab[sender], lab[to]
    return frames.udp4(s.mac, t.mac, ip_src=s.ipv4, ip_dst=t.ipv4)


def forged_mac(lab: Lab, sender: str, to: str) -> Any:
    s, t = lab[sender], lab[to]
    return frames.udp4("52:54:00:66:66:66", t.mac, ip_src=s.ipv4, ip_dst=t.ipv4)


def log_time(line: str) -> float:
    return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()


def test_unbound_guest_ports_are_dropped(make_host: Callable[..., Host]) -> None:
    host = make_host(guests=3, config=DROP)
    lab = host.lab
    host.bind([lab["alice"], lab["bob"]])
    host.start_agent()
    assert gets_through(lab, "alice", genuine(lab, "alice", "bob"), "bob")
    assert not arrives(lab, "carol", genuine(lab, "carol", "alice"), "alice")  # from the unbound port
    assert not arrives(lab, "alice", genuine(lab, "alice", "carol"), "carol")  # to it
    host.bind([lab["carol"]])
    assert gets_through(lab, "carol", genuine(lab, "carol", "alice"), "alice")
    assert not arrives(lab, "carol", forged_mac(lab, "carol", "alice"), "alice")
    assert host.plan() == ""


def test_default_filter_for_unbound_ports_and_ports_that_come_and_go(make_host: Callable[..., Host]) -> None:
    host = make_host(guests=3, config=DEFAULT_FILTER)
    lab = host.lab
    host.bind([lab["alice"], lab["bob"]])
    agent = host.start_agent()
    # carol has no binding: the default filter, with the guest MAC behind her port (fe:54:.. -> 52:54:..)
    assert gets_through(lab, "carol", genuine(lab, "carol", "alice"), "alice")
    assert not arrives(lab, "carol", forged_mac(lab, "carol", "alice"), "alice")
    assert host.plan() == ""  # the CLI lists the ports too, and wants the same state

    mark = len(agent.log())
    created = time.time()
    dave = new_guest(lab, "newg", 7)
    lab = add_port(lab, dave)
    appeared = agent.wait_log(r"port vnet7 appeared", after=mark)
    converged = agent.wait_log(r".* converged \(guest ports changed\): ", after=appeared.end())
    line_start = agent.log().rfind("\n", 0, converged.start()) + 1
    latency = log_time(agent.log()[line_start:]) - created
    assert latency < 1.0
    wait_until(
        lambda: arrives(lab, "newg", genuine(lab, "newg", "alice"), "alice"), 2, what="the new port's rules"
    )
    assert not arrives(lab, "newg", forged_mac(lab, "newg", "alice"), "alice")
    assert host.plan() == ""
    print(f"a new unbound guest port had its default filter {latency * 1000:.0f} ms after it was created")

    mark = len(agent.log())
    remove_port(lab, dave)
    agent.wait_log(r"port vnet7 disappeared", after=mark)
    agent.wait_log(r"converged \(guest ports changed\): .*delete element", after=mark)


def test_a_bound_port_is_filtered_the_moment_it_appears(make_host: Callable[..., Host]) -> None:
    host = make_host(guests=2, config=DROP)
    lab = host.lab
    host.bind(list(lab.guests))
    future = new_guest(lab, "later", 8)
    host.bind([future], params={future.name: {}})  # its VM starts later; its IP will be learned
    agent = host.start_agent()
    mark = len(agent.log())
    lab = add_port(lab, future)
    # no kernel change is needed: the rules match the port by name
    assert not arrives(lab, "later", forged_mac(lab, "later", "alice"), "alice")
    agent.wait_log(r"learning the IP address of vnet8 \(any\)", after=mark)
    send(lab, "later", [frames.arp(future.mac, op="who-has", psrc=future.ipv4, pdst=lab["alice"].ipv4)])
    agent.wait_log(rf"learned {future.ipv4} on vnet8 \(arp\)", after=mark)
    wait_until(
        lambda: arrives(lab, "later", genuine(lab, "later", "alice"), "alice"), 2, what="the full filter"
    )
    spoofed = frames.udp4(future.mac, lab["alice"].mac, ip_src=lab["bob"].ipv4, ip_dst=lab["alice"].ipv4)
    assert not arrives(lab, "later", spoofed, "alice")
