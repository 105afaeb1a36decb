"""Virtual networks through a running agent: at start it starts an autostart network (bridge, dnsmasq, a
guest gets a lease from it), recreates the bridge when it is deleted, restarts a killed dnsmasq, and
releases the lease of a guest whose port left the bridge (real dnsmasq, busybox udhcpc)."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from agentkit import Host, wait_until

from guestwall.lab import Guest
from guestwall.lab.netns import run_in_netns
from guestwall.networks import dnsmasq, leaseports, links
from netns_fixtures import needs_netns

pytestmark = needs_netns

NET = """<network>
  <name>agnet</name>
  <bridge name='gwag0'/>
  <ip address='10.79.0.1' prefix='24'>
    <dhcp>
      <range start='10.79.0.100' end='10.79.0.120'/>
    </dhcp>
  </ip>
</network>
"""
UDHCPC_SCRIPT = """#!/bin/sh
case "$1" in
  bound|renew) echo "$ip" > "$LEASE_FILE" ;;
esac
exit 0
"""


@pytest.fixture
def net_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """dnsmasq's state, readable to its user after it drops root (pytest's tmp_path is private)."""
    state = Path(tempfile.mkdtemp(prefix="gw-agnet-"))
    state.chmod(0o755)
    monkeypatch.setenv("GUESTWALL_NET_DIR", str(state))  # the agent inherits it
    try:
        yield state
    finally:
        shutil.rmtree(state, ignore_errors=True)


def _dhcp(host: Host, guest: Guest) -> str | None:
    """udhcpc in the guest: the address it was offered and acknowledged, or None."""
    script = host.workdir / "udhcpc.sh"
    script.write_text(UDHCPC_SCRIPT)
    script.chmod(0o755)
    out = host.workdir / f"lease-{guest.name}"
    out.unlink(missing_ok=True)
    argv = ["env", f"LEASE_FILE={out}", "busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-f", "-t", "6",
            "-T", "1", "-A", "1", "-s", str(script)]  # fmt: skip
    run_in_netns(guest.netns, argv, check=False, timeout=30)
    return out.read_text().strip() if out.exists() else None


def _move_port(host: Host, guest: Guest, bridge: str) -> None:
    run_in_netns(host.netns, ["ip", "link", "set", guest.portdev, "master", bridge])


def test_agent_starts_and_keeps_an_autostart_network(make_host: Callable[..., Host], net_dir: Path) -> None:
    host = make_host(guests=1, config="[agent]\ncheck_interval = 0.5\n")
    guest = host.lab.guests[0]
    host.run("net-define", host.write("agnet.xml", NET))
    host.run("net-autostart", "agnet")
    assert not links.bridge_present(host.netns, "gwag0")  # defined, not started

    agent = host.start_agent()
    agent.wait_log(r"networks: started autostart network agnet")
    p = dnsmasq.paths(host.netns, "agnet")
    first = dnsmasq.running(p)
    assert first is not None and links.bridge_present(host.netns, "gwag0")
    assert " agnet   active   yes         yes" in host.run("net-list").stdout
    _move_port(host, guest, "gwag0")
    leased = _dhcp(host, guest)
    assert leased is not None and leased.startswith("10.79.0.1")
    assert [lease.ip for lease in dnsmasq.leases(p)] == [leased]
    # the next check records whose lease it is (the port the bridge learned the guest's MAC on)
    wait_until(lambda: guest.portdev in str(leaseports.load_owners(p)), 5, what="the lease's owner")

    # the bridge is deleted under it (the guest's port falls off): recreated, dnsmasq restarted on it, and
    # the guest's lease released since its port is no longer on the network
    mark = len(agent.log())
    run_in_netns(host.netns, ["ip", "link", "del", "gwag0"])
    agent.wait_log(r"networks: recreated bridge gwag0 of network agnet", after=mark)
    agent.wait_log(rf"networks: released lease {leased} \(\S+\) of {guest.portdev} \(port gone\)", after=mark)
    wait_until(lambda: dnsmasq.leases(p) == [], 5, what="the released lease to leave the lease file")
    second = wait_until(lambda: dnsmasq.running(p), 5, what="dnsmasq to run again")
    assert second != first

    # dnsmasq is killed: the next check starts it again, and it serves the guest on the recreated bridge
    mark = len(agent.log())
    os.kill(second, signal.SIGKILL)
    agent.wait_log(r"networks: started dnsmasq of network agnet", after=mark)
    third = wait_until(lambda: dnsmasq.running(p), 5, what="dnsmasq to run again")
    assert third not in (first, second)
    _move_port(host, guest, "gwag0")
    again = _dhcp(host, guest)
    assert again is not None and again.startswith("10.79.0.1")
    assert agent.stop() == 0


def test_a_removed_port_releases_its_lease_at_the_link_event(
    make_host: Callable[..., Host], net_dir: Path
) -> None:
    """No periodic check in sight (one a minute): the link event alone runs the network step."""
    host = make_host(guests=1, config="[agent]\ncheck_interval = 60\n")
    guest = host.lab.guests[0]
    host.run("net-define", host.write("agnet.xml", NET))
    host.run("net-start", "agnet")
    agent = host.start_agent()
    p = dnsmasq.paths(host.netns, "agnet")
    _move_port(host, guest, "gwag0")
    leased = _dhcp(host, guest)
    assert leased is not None
    agent.signal(signal.SIGHUP)  # a convergence, which records the lease's owner
    wait_until(lambda: guest.portdev in str(leaseports.load_owners(p)), 10, what="the lease's owner")

    mark = len(agent.log())
    run_in_netns(host.netns, ["ip", "link", "del", guest.portdev])
    agent.wait_log(rf"networks: released lease {leased} \(\S+\) of {guest.portdev} \(port gone\)", after=mark)
    wait_until(lambda: dnsmasq.leases(p) == [], 5, what="the released lease to leave the lease file")
    assert "periodic check" not in agent.log()[mark:]
    assert agent.stop() == 0
