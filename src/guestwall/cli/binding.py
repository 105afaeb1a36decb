"""virsh-compatible binding commands (nwfilter-binding-create, -delete, -list, -dumpxml) and guestwall's own
``apply`` (make the kernel equal to the store) and ``status`` (what is enforced where, and how).

Bindings are enforced in the network namespace the command runs in (or ``--netns``).
"""

from __future__ import annotations

import click

from guestwall.cli.context import Context, reported
from guestwall.cli.nwfilter import read_input_file, required
from guestwall.cli.output import virsh_table


def warn_if_bridged_l3_is_off(ctx: Context) -> None:
    """libvirt warns too: without br_netfilter, layer-3/4 rules never see bridged packets."""
    from guestwall.dataplane.probe import bridged_l3_warning

    warning = bridged_l3_warning(ctx.netns)
    if warning:
        click.echo(f"warning: {warning}", err=True)


def _not_found(portdev: str) -> str:
    return f"failed to get nwfilter binding '{portdev}'"


@click.command("nwfilter-binding-create")
@click.argument("files", nargs=-1, metavar="FILE...")
@click.option("--file", "file_named", metavar="FILE", help="File containing an XML filter binding.")
@click.option("--validate", is_flag=True, help="Validate the XML against the schema.")
@click.pass_obj
def create(ctx: Context, files: tuple[str, ...], file_named: str | None, validate: bool) -> None:
    """Create a network filter binding from an XML FILE and enforce it at once.

    Several FILEs (a guestwall extension) are created together: one store and one kernel transaction.
    """
    from guestwall.services.bindings import create_binding, create_bindings

    paths = list(files) if files else [required("nwfilter-binding-create", "file", None, file_named)]
    with reported():
        xmls = [read_input_file(p) for p in paths]
    warn_if_bridged_l3_is_off(ctx)
    if len(paths) == 1:
        with reported(f"Failed to create network filter from {paths[0]}"):
            record, _ = create_binding(ctx.store(), xmls[0], ctx.engine())
        ctx.info(f"Network filter binding on {record.portdev} created from {paths[0]}")
        return
    with reported(f"Failed to create network filter bindings from {len(paths)} files"):
        records, _ = create_bindings(ctx.store(), xmls, ctx.engine())
    for record, path in zip(records, paths, strict=True):
        click.echo(f"Network filter binding on {record.portdev} created from {path}")
    ctx.done()


@click.command("nwfilter-binding-delete")
@click.argument("binding", required=False, metavar="BINDING")
@click.option("--binding", "binding_named", metavar="BINDING", help="Port device of the binding.")
@click.pass_obj
def delete(ctx: Context, binding: str | None, binding_named: str | None) -> None:
    """Delete the binding of a port device and remove its rules."""
    from guestwall.services.bindings import delete_binding

    portdev = required("nwfilter-binding-delete", "binding", binding, binding_named)
    with reported(f"Failed to delete network filter binding {portdev}", not_found=_not_found(portdev)):
        delete_binding(ctx.store(), portdev, ctx.engine())
    ctx.info(f"Network filter binding on {portdev} deleted")


@click.command("nwfilter-binding-list")
@click.pass_obj
def list_(ctx: Context) -> None:
    """List network filter bindings."""
    from guestwall.services.bindings import list_bindings

    with reported():
        records = list_bindings(ctx.reader())
    click.echo(
        virsh_table(["Port Dev", "Filter"], [[r.portdev, r.filter] for r in records], header=not ctx.quiet),
        nl=False,
    )
    ctx.done()


@click.command("nwfilter-binding-dumpxml")
@click.argument("binding", required=False, metavar="BINDING")
@click.option("--binding", "binding_named", metavar="BINDING", help="Port device of the binding.")
@click.pass_obj
def dumpxml(ctx: Context, binding: str | None, binding_named: str | None) -> None:
    """Show the XML of a binding."""
    from guestwall.services.bindings import get_binding

    portdev = required("nwfilter-binding-dumpxml", "binding", binding, binding_named)
    with reported(not_found=_not_found(portdev)):
        record = get_binding(ctx.reader(), portdev)
    click.echo(record.xml, nl=False)
    ctx.done()


@click.command("apply")
@click.option("--dry-run", is_flag=True, help="Print the nftables transaction instead of running it.")
@click.pass_obj
def apply(ctx: Context, dry_run: bool) -> None:
    """Make the kernel's guestwall tables equal to the store (repairs drift; no-op when nothing differs)."""
    from guestwall.services.bindings import reapply

    with reported():
        if dry_run:
            with ctx.store().read() as reader:
                click.echo(ctx.engine().plan(reader).text(), nl=False)
            return
        warn_if_bridged_l3_is_off(ctx)
        result = reapply(ctx.store(), ctx.engine())
    counts = result.transaction.counts()
    summary = ", ".join(f"{n} {verb}" for verb, n in sorted(counts.items())) or "nothing to change"
    ctx.info(f"Applied: {summary}")


@click.command("status")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_obj
def status(ctx: Context, fmt: str) -> None:
    """Show each binding: its filter, how it is enforced (shared, per-port fallback, learning its IP address)
    and the addresses learned for it, how and when."""
    import json

    from guestwall.engine.desired import load_ports
    from guestwall.store.records import LearnedAddress

    with reported():
        store = ctx.store()
        with store.read() as reader:
            ports = load_ports(reader)
            desired = ctx.engine().desired(reader, strict=False)
            learned: dict[str, list[LearnedAddress]] = {}
            for address in reader.learned_addresses():
                learned.setdefault(address.portdev, []).append(address)
    rows = []
    for port in sorted(ports, key=lambda p: p.record.portdev.lower()):
        dev = port.record.portdev
        learning = desired.learning.get(dev)
        if dev in desired.failures:
            mode = f"not enforced (all dropped): {desired.failures[dev]}"
        elif learning is not None and learning.interim:
            mode = f"learning IP address ({learning.mode.value}): interim rules"
        elif dev in desired.compiled.fallbacks:
            mode = "per-port fallback: " + "; ".join(desired.compiled.fallbacks[dev])
        else:
            mode = "shared"
        details = [
            {
                "ip": str(a.ip),
                "source": a.source,
                "learned_at": a.learned_at.isoformat(),
                "expires_at": a.expires_at.isoformat() if a.expires_at else None,
            }
            for a in learned.get(dev, [])
        ]
        rows.append(
            {
                "portdev": dev,
                "filter": port.record.filter,
                "enforcement": mode,
                "learning": learning.mode.value if learning is not None else None,
                "learned": [d["ip"] for d in details],
                "learned_detail": details,
            }
        )
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("Port Dev", "Filter", "Enforcement", "Learned")
    for row in rows:
        cells = [str(row["portdev"]), str(row["filter"]), str(row["enforcement"])]
        table.add_row(*cells, _learned_text(row["learned_detail"]))
    Console().print(table)


def _learned_text(details: object) -> str:
    assert isinstance(details, list)
    lines = []
    for d in details:
        when = d["learned_at"][:19].replace("T", " ")
        until = f", until {d['expires_at'][:19].replace('T', ' ')}Z" if d["expires_at"] else ""
        lines.append(f"{d['ip']} ({d['source']}, {when}Z{until})")
    return "\n".join(lines)
