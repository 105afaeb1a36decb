"""``guestwall host-settings show|set|import``: the host settings that change enforcement, kept in the store
(services.hostsettings). A change is enforced at once; one that enforces less says so."""

from __future__ import annotations

from typing import Any

import click

from guestwall.cli.context import Context, reported
from guestwall.cli.output import FORMATS, emit


@click.group("host-settings")
def host_settings() -> None:
    """Guest port patterns, what unbound guest ports get, DHCP snooping rates (stored, enforced)."""


@host_settings.command("show")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("-c", "--column", "columns", multiple=True, metavar="COLUMN", help="Show only this column.")
@click.pass_obj
def show(ctx: Context, fmt: str, columns: tuple[str, ...]) -> None:
    """The settings in force, and where they come from (the store, or a file not yet seeded)."""
    from guestwall.config import enforcement_settings
    from guestwall.services.hostsettings import host_config, stored_settings

    with reported(), ctx.store(create=False).read() as reader:
        stored = stored_settings(reader)
        config = host_config(reader)
    source = (
        "store"
        if stored is not None
        else (f"file {config.source} (not yet stored)" if config.source else "defaults")
    )
    rows = [
        {"setting": key, "value": value, "source": source}
        for key, value in enforcement_settings(config).items()
    ]
    emit(fmt, rows, ["setting", "value", "source"], columns)


def _parameters(values: tuple[str, ...]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"'{item}' is not NAME=VALUE", param_hint="--default-parameter")
        out.setdefault(name, []).append(value)
    return out


@host_settings.command("set")
@click.option(
    "--guest-pattern",
    "patterns",
    multiple=True,
    metavar="PATTERN",
    help="Guest port names (vnet*); replaces the list.",
)
@click.option(
    "--no-guest-patterns", is_flag=True, help="No interface is a guest port (weaker: unbound ones pass)."
)
@click.option(
    "--unbound", type=click.Choice(["drop", "filter"]), default=None, help="What unbound guest ports get."
)
@click.option("--default-filter", default=None, metavar="FILTER", help="Their filter with --unbound filter.")
@click.option("--default-parameter", "params", multiple=True, metavar="NAME=VALUE", help="A parameter of it.")
@click.option("--guest-mac", type=click.Choice(["tap", "port"]), default=None, help="Their guest MAC.")
@click.option("--dhcp-rate", type=float, default=None, help="DHCP packets per second snooped per port.")
@click.option("--dhcp-burst", type=int, default=None, help="DHCP snooping burst.")
@click.pass_obj
def set_(
    ctx: Context,
    patterns: tuple[str, ...],
    no_guest_patterns: bool,
    unbound: str | None,
    default_filter: str | None,
    params: tuple[str, ...],
    guest_mac: str | None,
    dhcp_rate: float | None,
    dhcp_burst: int | None,
) -> None:
    """Change host settings and enforce them at once (the others keep their values)."""
    from guestwall.services.hostsettings import update_settings

    updates: dict[str, Any] = {}
    if patterns or no_guest_patterns:
        updates["ports.guest_patterns"] = list(patterns)
    candidates = {
        "ports.unbound": unbound,
        "ports.default_filter": default_filter,
        "ports.guest_mac": guest_mac,
        "learning.dhcp_rate": dhcp_rate,
        "learning.dhcp_burst": dhcp_burst,
    }
    updates.update({k: v for k, v in candidates.items() if v is not None})
    if params:
        updates["ports.default_parameters"] = _parameters(params)
    if not updates:
        raise click.UsageError("nothing to set (see --help)")
    with reported("Failed to change the host settings"):
        changed, _ = update_settings(ctx.store(), ctx.engine(), updates)
    _report(ctx, changed)


@host_settings.command("import")
@click.argument("path", metavar="FILE")
@click.pass_obj
def import_(ctx: Context, path: str) -> None:
    """Take a configuration file's [ports] and [learning] settings as the host settings, and enforce them."""
    from guestwall.services.hostsettings import import_file

    with reported(f"Failed to import the host settings of {path}"):
        changed, _ = import_file(ctx.store(), ctx.engine(), path)
    _report(ctx, changed)


def _report(ctx: Context, changed: list[Any]) -> None:
    for change in changed:
        if change.weakens:
            click.echo(f"warning: {change.text()}", err=True)
        else:
            click.echo(change.text())
    ctx.info("Host settings changed and enforced" if changed else "Host settings unchanged")
