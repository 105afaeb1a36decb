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
    help="e.g. 'smac=52:54:00:00:00:05 src=10.77.0.14 dst=10.77.0.10 tcp dport=22' (keys below).",
)
@click.option("--trace", is_flag=True, help="Show every rule evaluated.")
@click.pass_obj
def simulate(ctx: Context, portdev: str, direction: str, packet_text: str, trace: bool) -> None:
    """Explain what the filter of PORTDEV does with a packet.

    \b
    The packet is words: key=value pairs and bare protocol words.
      protocol words  ip ip6 arp rarp vlan | tcp udp icmp icmpv6 igmp esp ah sctp udplite
      Ethernet        smac dmac type vlan vlantype
      ARP             op (request|reply|...) sha spa tha tpa
      IP              src dst proto dscp
      ports, flags    sport dport flags (syn,ack,fin,rst,psh,urg)
      ICMP            icmptype icmpcode
      conntrack       state (new|established|related|invalid, default new) dir (original|reply)
    Missing header fields stay absent: a rule testing one does not match (as nftables).
    Address sets (security group members, provider blocks) are evaluated with the store's contents; a
    rule of the cloud layer is named by its security group and rule id, or its provider block.

    \b
    Exit status: 0 accepted, 2 dropped, 1 an error (unknown port, bad packet description).
    """
    from guestwall.engine.desired import enforced_program, load_address_sets
    from guestwall.services.bindings import get_binding
    from guestwall.services.filters import load_filters
    from guestwall.simulate import parse_packet
    from guestwall.simulate import simulate as run

    with reported(not_found=f"failed to get nwfilter binding '{portdev}'"):
        packet = parse_packet(packet_text)
        record = get_binding(ctx.reader(), portdev)
        store = ctx.store(create=False)
        with store.read() as reader:
            program = enforced_program(reader, record, load_filters(reader))  # interim rules while learning
            outcome = run(program, direction, packet, load_address_sets(reader))
            cloud_line = _cloud_line(reader, outcome, packet)
    if ctx.fmt != "table" or ctx.columns:
        from guestwall.cli.output import emit

        rule = outcome.decided_by
        data = {
            "verdict": outcome.verdict,
            "stage": outcome.stage.value if outcome.stage else None,
            "rule": str(rule.origin) if rule is not None else None,
            "decided_by": cloud_line,
            "notes": list(dict.fromkeys(outcome.notes)),
        }
        if trace:
            data["trace"] = [
                f"{s.stage.value} {s.chain} {'match' if s.matched else '-'} {s.entry}" for s in outcome.trace
            ]
        emit(ctx.fmt, data, [], ctx.columns)
        if outcome.verdict == "drop":
            raise SystemExit(2)
        return
    if trace:
        for step in outcome.trace:
            mark = "match" if step.matched else "     "
            click.echo(f"  {step.stage.value:7} {step.chain:12} {mark} {step.entry}")
    for note in dict.fromkeys(outcome.notes):
        click.echo(f"note: {note}")
    click.echo(outcome.explain())
    if cloud_line:
        click.echo(f"decided by {cloud_line}")
    if outcome.verdict == "drop":
        raise SystemExit(2)


def _cloud_line(reader: object, outcome: object, packet: object) -> str | None:
    """The cloud object behind the deciding rule (cloud.explain), when a generated filter decided."""
    from guestwall.services.ownership import cloud_owned_filter
    from guestwall.simulate.evaluate import SimulationResult
    from guestwall.store.sqlstore import SqlReader

    assert isinstance(outcome, SimulationResult)
    rule = outcome.decided_by
    if rule is None or not cloud_owned_filter(rule.origin.filter) or not isinstance(reader, SqlReader):
        return None
    from guestwall.cloud.explain import describe
    from guestwall.simulate.packet import Packet
    from guestwall.store.cloudrepo import cloud_reader

    assert isinstance(packet, Packet)
    return describe(cloud_reader(reader), outcome, packet)
