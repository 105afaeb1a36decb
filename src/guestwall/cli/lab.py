"""``guestwall lab up|down|status``: build, remove and show the namespace lab used by demos and tests."""

from __future__ import annotations

import time

import click

from guestwall.cli.context import reported
from guestwall.lab.spec import DEFAULT_PREFIX, Lab

PREFIX_OPTION = click.option(
    "--prefix", default=DEFAULT_PREFIX, show_default=True, help="Name prefix of the lab's namespaces."
)


@click.group()
def lab() -> None:
    """A bridge and guests in network namespaces, for trying filters with real frames."""


@lab.command()
@click.option("--guests", "-n", type=click.IntRange(0), default=5, show_default=True, help="How many guests.")
@PREFIX_OPTION
@click.option("--subnet", default="10.77.0.0/24", show_default=True, help="IPv4 subnet of the bridge.")
@click.option("--subnet6", default="fd77::/64", show_default=True, help="IPv6 (ULA) subnet of the bridge.")
@click.option("--replace", is_flag=True, help="Remove an existing lab with this prefix first.")
def up(guests: int, prefix: str, subnet: str, subnet6: str, replace: bool) -> None:
    """Build the lab: <prefix>-host with bridge br0, and one namespace per guest."""
    from guestwall.lab.build import lab_up
    from guestwall.lab.spec import LabSpec

    with reported():
        started = time.perf_counter()
        built = lab_up(LabSpec(prefix=prefix, guests=guests, subnet=subnet, subnet6=subnet6), replace=replace)
        _print_lab(built, f"built in {time.perf_counter() - started:.2f} s")


@lab.command()
@PREFIX_OPTION
def down(prefix: str) -> None:
    """Remove every namespace of the lab (nothing to remove is fine)."""
    from guestwall.lab.build import lab_down

    with reported():
        removed = lab_down(prefix)
    if removed:
        click.echo(f"Lab {prefix} removed ({len(removed)} namespaces)")
    else:
        click.echo(f"Lab {prefix} is not up")


@lab.command()
@PREFIX_OPTION
def status(prefix: str) -> None:
    """Show the lab as the kernel has it."""
    from guestwall.lab.build import lab_status

    with reported():
        found = lab_status(prefix)
    if found is None:
        click.echo(f"Lab {prefix} is not up")
    else:
        _print_lab(found, "up")


def _print_lab(built: Lab, state: str) -> None:
    from rich.console import Console
    from rich.table import Table

    count = f"{len(built.guests)} guest{'' if len(built.guests) == 1 else 's'}"
    table = Table(
        title=f"Lab {built.prefix}: {count}, {state}",
        caption=f"{built.host_netns}: {built.bridge} {built.bridge_ipv4}/{built.prefixlen4} "
        f"{built.bridge_ipv6}/{built.prefixlen6}",
    )
    for column in ("name", "namespace", "port", "MAC", "IPv4", "IPv6"):
        table.add_column(column, no_wrap=True)
    for g in built.guests:
        table.add_row(g.name, g.netns, g.portdev, g.mac, g.ipv4, g.ipv6)
    Console().print(table)
