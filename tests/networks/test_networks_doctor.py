"""Coexistence with other tables: a Docker-like forward chain with policy drop and a host firewall that
drops input break nat guests and their DHCP; ``guestwall doctor`` names both with the exact fix, and
``doctor --fix`` makes guests get their lease and get out again."""

from __future__ import annotations

from click.testing import CliRunner
from netkit import UPLINK_HOST, UPLINK_OUTSIDE, World

from guestwall.cli.app import cli
from guestwall.networks import service
from netns_fixtures import needs_netns

pytestmark = needs_netns

NAT = """<network><name>dk</name><forward mode='nat'/><bridge name='gwdk0'/>
  <ip address='10.87.0.1' prefix='24'><dhcp><range start='10.87.0.10' end='10.87.0.20'/></dhcp></ip>
</network>"""
FOREIGN = """
table ip dockerish {
  chain FORWARD {
    type filter hook forward priority 0; policy drop;
  }
}
table inet hostfw {
  chain input {
    type filter hook input priority 0; policy drop;
    iifname "lo" accept
  }
}
"""


def test_doctor_finds_and_fixes_foreign_drops(world: World) -> None:
    service.define(world.store, NAT, world.host)
    service.start(world.store, "dk", world.host)
    g = world.guest("dg", "dk")
    from guestwall.lab.netns import run_in_netns

    run_in_netns(world.host, ["nft", "-f", "-"], input=FOREIGN, check=True)
    assert world.dhcp("dg") is None  # the host firewall drops DHCP

    runner = CliRunner()
    base = ["--db", f"sqlite:///{world.tmp}/guestwall.db", "--netns", world.host, "doctor"]
    report = runner.invoke(cli, base)
    assert report.exit_code == 1
    assert (
        "table ip dockerish chain FORWARD (hook forward, policy drop) drops forwarded traffic"
        in report.output
    )
    assert "table inet hostfw chain input (hook input, policy drop) drops DHCP and DNS" in report.output
    assert 'fix: nft insert rule ip dockerish FORWARD iifname "gwdk0" accept' in report.output

    fixed = runner.invoke(cli, [*base, "--fix"])
    assert fixed.exit_code == 0, fixed.output
    address = world.dhcp("dg")
    assert address is not None and address.startswith("10.87.0.")
    assert world.tcp_source(g, world.outside, UPLINK_OUTSIDE) == UPLINK_HOST
    assert runner.invoke(cli, base).exit_code == 0  # nothing left to fix
