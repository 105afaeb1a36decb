"""``guestwall status --counters``: what the kernel counted, per bound port and per rule
(agent/counters.py)."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from guestwall.cli.context import Context, reported
from guestwall.cli.output import virsh_table


def show_counters(ctx: Context, fmt: str) -> None:
    from guestwall.agent.counters import read_ports, read_rules
    from guestwall.cli.binding import backend_for
    from guestwall.services.bindings import list_bindings

    with reported():
        bound = [r.portdev for r in list_bindings(ctx.reader())]
        rules, sizes = read_rules(backend_for(ctx))
        ports = read_ports(ctx.netns, bound)
    if fmt == "json":
        data = {
            "ports": [asdict(p) for p in ports],
            "rules": [asdict(r) for r in rules],
            "sizes": asdict(sizes),
        }
        click.echo(json.dumps(data, indent=2))
        return
    click.echo("Ports (what the guest sent: out; what it was sent: in)")
    click.echo(
        virsh_table(
            ("Port Dev", "Out packets", "Out bytes", "In packets", "In bytes"),
            [
                (p.port, str(p.out_packets), str(p.out_bytes), str(p.in_packets), str(p.in_bytes))
                for p in ports
            ],
        )
    )
    click.echo("Rules (summed over the ports that share them; [counters] rules = true counts every rule)")
    click.echo(
        virsh_table(
            ("Table", "Chain", "#", "Rule", "Packets", "Bytes"),
            [(r.family, r.chain, str(r.position), r.origin, str(r.packets), str(r.bytes)) for r in rules],
        )
    )
    click.echo(
        f"{sizes.chains} chains, {sizes.rules} rules, {sizes.sets} sets and maps, {sizes.elements} elements"
    )
