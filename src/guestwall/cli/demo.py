"""``guestwall demo``: the README's main job. Builds a namespace lab, lets guest eve attack with forged
frames before and after clean-traffic is bound to every guest, prints what got through, and cleans up."""

from __future__ import annotations

import click

from guestwall.cli.context import Context, reported


@click.command("demo")
@click.option("--prefix", default="gwdemo", show_default=True, help="Name prefix of the lab's namespaces.")
@click.pass_obj
def demo(ctx: Context, prefix: str) -> None:
    """Show guestwall stopping a spoofing guest, in network namespaces of its own."""
    from rich.console import Console
    from rich.table import Table

    from guestwall.lab.demo import run_demo

    console = Console(width=max(Console().width, 100))
    with reported(), console.status("starting") as status:
        report = run_demo(prefix, progress=lambda text: status.update(text))
    table = Table(title="eve (vnet4) against alice, bob, carol and dave on one bridge")
    table.add_column("what eve does")
    table.add_column("bare bridge")
    table.add_column("guestwall + clean-traffic")
    for title, attack, bare, filtered in report.rows:
        label = ("[bold]attack[/bold] " if attack else "") + title
        table.add_row(label, _cell(attack, bare), _cell(attack, filtered))
    console.print(table)
    console.print(
        f"clean-traffic bound to 5 ports in {report.bind_seconds * 1000:.0f} ms "
        f"(one nftables transaction, {report.kernel_rules} rules shared by all ports)"
    )
    if not report.ok:
        console.print("[red]something was not as expected[/red]")
        raise SystemExit(1)
    console.print("[green]every attack blocked, normal traffic passes[/green]")


def _cell(attack: bool, got_through: bool) -> str:
    if attack:
        return "[red]got through[/red]" if got_through else "[green]blocked[/green]"
    return "[green]passes[/green]" if got_through else "[red]blocked[/red]"
