"""Agent start and restart: nothing changes in the kernel when nothing changed, and a guest flooding forged
frames during the restart never gets one through. SIGHUP reconciles everything, SIGTERM leaves the rules."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable

from agentkit import Flood, Host

from guestwall.compile import names
from guestwall.lab.traffic import frames
from netns_fixtures import needs_netns

pytestmark = needs_netns

CONFIG = '[ports]\nguest_patterns = ["vnet*"]\n'


def forged_and_genuine(host: Host, sender: str, victim: str) -> tuple[list[object], set[int]]:
    """Frames from ``sender``: forged ones (another guest's IP, a forged MAC, ARP poisoning, a VLAN-tagged
    forged IP) and, as the control, genuine ones. Returns them and the indexes of the genuine ones."""
    s, v = host.lab[sender], host.lab[victim]
    forged = [
        frames.udp4(s.mac, v.mac, ip_src=v.ipv4, ip_dst=v.ipv4),
        frames.udp4("52:54:00:66:66:66", v.mac, ip_src=s.ipv4, ip_dst=v.ipv4),
        frames.arp(s.mac, op="is-at", psrc=v.ipv4, pdst=v.ipv4, dst=v.mac),
        frames.udp4(s.mac, v.mac, ip_src=v.ipv4, ip_dst=v.ipv4, vlan=7),
    ]
    genuine = [frames.udp4(s.mac, v.mac, ip_src=s.ipv4, ip_dst=v.ipv4)]
    return forged + genuine, {len(forged)}


def test_restart_with_50_ports_changes_nothing_and_lets_nothing_through(
    make_host: Callable[..., Host],
) -> None:
    host = make_host(guests=50, config=CONFIG)
    host.bind(list(host.lab.guests))  # the CLI applies directly: no agent needed
    first = host.start_agent()
    assert "converged (start): no change" in first.log()

    monitor = subprocess.Popen(
        ["ip", "netns", "exec", host.netns, "nft", "monitor"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    time.sleep(0.3)  # the monitor subscribes
    sender, victim = host.lab.guests[-1].name, host.lab.guests[0].name
    wire, genuine = forged_and_genuine(host, sender, victim)
    try:
        with Flood(host.lab, sender, wire, [victim, host.lab.bridge]) as flood:
            time.sleep(0.2)
            assert first.stop() == 0
            second = host.start_agent()
            restart = second.ready_after
            time.sleep(0.2)
        arrived = flood.arrived()
    finally:
        monitor.terminate()
        out = monitor.communicate(timeout=5)[0]
    assert "converged (start): no change" in second.log()
    assert [
        line for line in out.splitlines() if " guestwall " in f" {line} "
    ] == []  # no kernel change at all
    assert flood.sent > 500
    for receiver, counts in arrived.items():
        assert set(counts) <= genuine, f"forged frames reached {receiver}: {sorted(set(counts) - genuine)}"
    assert arrived[victim], "control: genuine frames arrive"
    print(
        f"agent restart with 50 bound ports: ready after {restart:.2f} s; {flood.sent} frames sent meanwhile"
    )


def test_sighup_and_sigterm(make_host: Callable[..., Host]) -> None:
    host = make_host(guests=2, config=CONFIG)
    host.bind(list(host.lab.guests))
    agent = host.start_agent()
    second = subprocess.run(
        host.cli_argv("agent"), capture_output=True, text=True, env=host.env(), timeout=60
    )
    assert second.returncode == 1
    assert (
        f"another agent already runs for network namespace {host.netns} (pid {agent.proc.pid})"
        in second.stderr
    )
    mark = len(agent.log())
    agent.signal(signal.SIGHUP)
    agent.wait_log(r"converged \(SIGHUP\): no change", after=mark)
    before = host.nft("-j", "list", "ruleset").stdout
    assert agent.stop() == 0
    assert "agent stopped (rules left in place)" in agent.log()
    assert host.nft("-j", "list", "ruleset").stdout == before

    # an edit made while no agent ran, keeping the rule's comment: a start cannot tell, SIGHUP verifies
    listing = json.loads(host.nft("-j", "-a", "list", "table", "bridge", names.TABLE).stdout)["nftables"]
    rule = next(
        o["rule"] for o in listing if "rule" in o and "no-mac-spoofing#2" in o["rule"].get("comment", "")
    )
    where = ["bridge", names.TABLE, rule["chain"], "handle", str(rule["handle"])]
    host.nft("replace", "rule", *where, "accept", "comment", json.dumps(rule["comment"]))
    again = host.start_agent()
    assert "converged (start): no change" in again.log()
    mark = len(again.log())
    again.signal(signal.SIGHUP)
    again.wait_log(r"converged \(SIGHUP\): .*refilled 1 chain\(s\) edited in place", after=mark)
    assert host.plan() == ""
    assert "drop comment" in host.nft("list", "chain", "bridge", names.TABLE, rule["chain"]).stdout
