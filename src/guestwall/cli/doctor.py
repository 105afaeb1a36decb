"""``guestwall doctor [--fix]``: what would break running networks (other tables that drop their traffic,
forwarding off, br_netfilter missing), with the exact fix for each; ``--fix`` applies them."""

from __future__ import annotations

import shutil
import subprocess
import sys

import click

from guestwall.cli.context import Context, reported


@click.command("doctor")
@click.option(
    "--fix", is_flag=True, help="Insert the accept rules other tables need (tagged guestwall-coexist)."
)
@click.pass_obj
def doctor(ctx: Context, fix: bool) -> None:
    """Check that every table accepts the traffic of running networks, and the kernel settings."""
    from guestwall.dataplane.backend import open_backend
    from guestwall.networks import doctor as checks
    from guestwall.networks import service
    from guestwall.networks.dnsmasq import _enter
    from guestwall.networks.xml import parse_network
    from guestwall.nft.commands import ListRuleset

    with reported("Failed to examine the host"):
        nets = [parse_network(r.live_xml) for r in service.records(ctx.store(create=False)) if r.live_xml]
        backend = open_backend(ctx.netns)
        findings = checks.coexistence(backend.list_json(ListRuleset()) or {}, nets)
        findings += checks.kernel_settings(ctx.netns, nets)
        if fix and findings:
            netns = ctx.netns
            for command in checks.apply_fixes(backend, findings):
                if command.startswith("iptables") and shutil.which("iptables"):
                    subprocess.run(command.split(), preexec_fn=lambda: _enter(netns), check=False)
            findings = checks.coexistence(backend.list_json(ListRuleset()) or {}, nets)
            findings += checks.kernel_settings(ctx.netns, nets)
    if not findings:
        click.echo(f"ok: {len(nets)} running network(s); every table accepts their traffic")
        return
    for finding in findings:
        click.echo(f"problem: {finding.problem}")
        for command in finding.fixes:
            click.echo(f"  fix: {command}")
    sys.exit(1)
