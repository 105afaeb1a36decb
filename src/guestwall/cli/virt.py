"""``guestwall import-libvirt``: take a host's nwfilter filters and bindings over from libvirt
(docs/libvirt.md).

Reads a libvirt connection (read-only) and/or directories of XML files, prints one line per filter and
binding (imported, updated, unchanged, or NOT imported with the reason), and with ``--dry-run`` changes
nothing. Exits 1 when anything could not be imported (after importing the rest).
"""

from __future__ import annotations

import sys

import click

from guestwall.cli.context import Context, reported


@click.command("import-libvirt")
@click.option(
    "--connect", "-c", "uri", default=None, metavar="URI", help="A libvirt URI, e.g. qemu:///system."
)
@click.option(
    "--dir",
    "directories",
    multiple=True,
    metavar="DIR",
    help="A directory of filter or binding XML files (/etc/libvirt/nwfilter, /run/libvirt/nwfilter-binding); "
    "repeatable.",
)
@click.option("--no-bindings", is_flag=True, help="Import the filters only.")
@click.option("--dry-run", is_flag=True, help="Print what would be imported; change nothing.")
@click.pass_obj
def import_libvirt(
    ctx: Context, uri: str | None, directories: tuple[str, ...], no_bindings: bool, dry_run: bool
) -> None:
    """Import libvirt's nwfilter filters and bindings (UUIDs kept; builtins mapped onto guestwall's)."""
    from guestwall.virt.importer import SKIP, plan_import, read_connection, read_directory, run_import

    if not uri and not directories:
        click.echo("error: import-libvirt needs --connect URI or --dir DIR", err=True)
        sys.exit(1)
    filters, bindings, unreadable = [], [], []
    with reported("Failed to read libvirt's filters"):
        if uri:
            f, b = read_connection(uri)
            filters += f
            bindings += b
        for directory in directories:
            f, b, bad = read_directory(directory)
            filters += f
            bindings += b
            unreadable += bad
    if no_bindings:
        bindings = []
    with reported("Failed to import from libvirt"):
        items = plan_import(ctx.store(), filters, bindings)
        if not dry_run:

            items = run_import(ctx.store(), items, ctx.engine()) + [
                i for i in items if i.action not in ("import", "update")
            ]
    items = unreadable + sorted(items, key=lambda i: (i.kind != "filter", i.name))
    for item in items:
        click.echo(item.line())
    counts = {
        action: sum(1 for i in items if i.action == action) for action in ("import", "update", "same", SKIP)
    }
    prefix = "Would import" if dry_run else "Imported"
    click.echo(
        f"{prefix} {counts['import']}, update {counts['update']}; {counts['same']} already equal; "
        f"{counts[SKIP]} cannot be imported"
    )
    if counts[SKIP]:
        sys.exit(1)
