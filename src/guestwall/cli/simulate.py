"""``guestwall simulate PORTDEV --direction out|in --packet '...'``: the verdict a port's rules give a packet,
and the filter rule that decided it, evaluated on the same rule program the kernel is given."""

from __future__ import annotations

import click

from guestwall.cli.context import Context, reported


@click.command("simulate")
@click.argument("portdev")
@click.option(
    "--direction",
    type=click.Choice(["out", "in"]),
    required=True,
    help="out: sent by the guest; in: delivered to it.",
)
@click.option(
    "--packet",
    "packet_text",
    required=True,
    help="e.g. 'smac=52:54:00:00:00:05 src=10.77.0.14 dst=10.77.0.10 tcp dport=22'",
)
@click.option("--trace", is_flag=True, help="Show every rule evaluated.")
@click.pass_obj
def simulate(ctx: Context, portdev: str, direction: str, packet_text: str, trace: bool) -> None:
    """Explain what the filter of PORTDEV does with a packet."""
    from guestwall.engine.desired import enforced_program
    from guestwall.services.bindings import get_binding
    from guestwall.services.filters import load_filters
    from guestwall.simulate import parse_packet
    from guestwall.simulate import simulate as run

    with reported(not_found=f"failed to get nwfilter binding '{portdev}'"):
        packet = parse_packet(packet_text)
        record = get_binding(ctx.reader(), portdev)
        store = ctx.store()
        with store.read() as reader:
            program = enforced_program(reader, record, load_filters(reader))  # interim rules while learning
        outcome = run(program, direction, packet)
    if trace:
        for step in outcome.trace:
            mark = "match" if step.matched else "     "
            click.echo(f"  {step.stage.value:7} {step.chain:12} {mark} {step.entry}")
    for note in dict.fromkeys(outcome.notes):
        click.echo(f"note: {note}")
    click.echo(outcome.explain())
    if outcome.verdict == "drop":
        raise SystemExit(2)
