"""``guestwall floating-ip create|delete|list``: linux_net's floating IPs (DNAT in, SNAT out, hairpin, the
address bound on the public interface with a gratuitous ARP)."""

from __future__ import annotations

import click

from guestwall.cli.context import Context, reported


@click.group("floating-ip")
def floating_ip() -> None:
    """Floating IPs: a public address translated to a guest's fixed address."""


@floating_ip.command("create")
@click.option("--address", required=True, help="The public (floating) IPv4 address.")
@click.option("--fixed", required=True, help="The guest's fixed IPv4 address.")
@click.option(
    "--interface", default=None, help="Public interface: bind the address there, SNAT only out of it."
)
@click.pass_obj
def create(ctx: Context, address: str, fixed: str, interface: str | None) -> None:
    """Create a floating IP."""
    from guestwall.networks import floating

    with reported(f"Failed to create floating IP {address}"):
        rec = floating.create(ctx.store(), address, fixed, interface, ctx.netns, engine=ctx.engine())
    ctx.info(f"Floating IP {rec.address} created for {rec.fixed}")


@floating_ip.command("delete")
@click.argument("address")
@click.pass_obj
def delete(ctx: Context, address: str) -> None:
    """Delete a floating IP."""
    from guestwall.networks import floating

    with reported(f"Failed to delete floating IP {address}"):
        rec = floating.delete(ctx.store(), address, ctx.netns, engine=ctx.engine())
    ctx.info(f"Floating IP {rec.address} deleted")


@floating_ip.command("list")
@click.pass_obj
def list_(ctx: Context) -> None:
    """List floating IPs."""
    from guestwall.cli.output import virsh_table
    from guestwall.networks import floating

    with reported("Failed to list floating IPs"):
        recs = floating.listing(ctx.store(create=False))
    rows = [(r.address, r.fixed, r.interface or "-") for r in recs]
    click.echo(virsh_table(("Address", "Fixed address", "Interface"), rows, header=not ctx.quiet), nl=False)
    ctx.done()
