"""virsh-compatible binding commands (nwfilter-binding-create, -delete, -list, -dumpxml) and guestwall's own
``apply`` (make the kernel equal to the store) and ``status`` (what is enforced where, and how).

Bindings are enforced in the network namespace the command runs in (or ``--netns``).
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from guestwall.cli.context import Context, reported
from guestwall.cli.nwfilter import read_input_file, required
from guestwall.cli.output import FORMATS, emit, virsh_table

if TYPE_CHECKING:
    from guestwall.dataplane.backend import Backend


def backend_for(ctx: Context) -> Backend:
    """The kernel a command enforces in: this namespace's (or --netns); for another host (--host) with no
    --netns, none (the change is validated and written; that host's agent enforces it)."""
    from guestwall.dataplane.backend import NoKernel, open_backend

    return NoKernel() if ctx.remote else open_backend(ctx.netns)


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
@click.option("--validate", is_flag=True, help="Validate the XML against libvirt's binding schema.")
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
            record, _ = create_binding(ctx.store(), xmls[0], ctx.engine(), validate=validate)
        ctx.info(
            f"Network filter binding on {record.portdev} created from {paths[0]}",
            {"portdev": record.portdev, "filter": record.filter, "created": True},
        )
        return
    with reported(f"Failed to create network filter bindings from {len(paths)} files"):
        records, _ = create_bindings(ctx.store(), xmls, ctx.engine(), validate=validate)
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
    ctx.info(f"Network filter binding on {portdev} deleted", {"portdev": portdev, "deleted": True})


@click.command("nwfilter-binding-list")
@click.pass_obj
def list_(ctx: Context) -> None:
    """List network filter bindings."""
    from guestwall.services.bindings import list_bindings

    with reported():
        records = list_bindings(ctx.reader())
    if ctx.fmt != "table" or ctx.columns:
        data = [{"portdev": r.portdev, "filter": r.filter} for r in records]
        emit(ctx.fmt, data, ["portdev", "filter"], ctx.columns)
        return
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
    if ctx.fmt != "table" or ctx.columns:
        emit(
            ctx.fmt, {"portdev": record.portdev, "filter": record.filter, "xml": record.xml}, [], ctx.columns
        )
        return
    click.echo(record.xml, nl=False)
    ctx.done()


@click.command("apply")
@click.option("--dry-run", is_flag=True, help="Print the nftables transaction instead of running it.")
@click.option(
    "--allow-empty",
    is_flag=True,
    help="Apply even a store without bindings (creating it if missing) while the kernel enforces ports.",
)
@click.pass_obj
def apply(ctx: Context, dry_run: bool, allow_empty: bool) -> None:
    """Make the kernel equal to the store: repair drift, restore what cloud objects need."""
    from guestwall.cloud.integrity import missing
    from guestwall.errors import MissingStoreError
    from guestwall.services.bindings import reapply_restoring

    with reported():
        if dry_run:
            store = ctx.store(create=False)
            with store.read() as reader:
                gaps = missing(reader)
                text = ctx.engine().plan(reader).text()
            for gap in gaps:
                click.echo(f"# would restore {gap}")
            if text:
                click.echo(text, nl=False)
            elif not gaps:
                ctx.info("Nothing to change: the kernel equals the store")
            return
        warn_if_bridged_l3_is_off(ctx)
        engine = ctx.engine()
        try:
            store = ctx.store(create=False)
        except MissingStoreError:
            from guestwall.services.emptystore import open_for_enforcing

            # created only on a host whose kernel enforces no port, or when told to
            open_for_enforcing(ctx.url, ctx.host, engine.backend, allow_empty).close()
            store = ctx.store()
        result, restored = reapply_restoring(store, engine, allow_empty=allow_empty)
    for gap in restored:
        click.echo(f"Restored {gap}")
    counts = result.transaction.counts()
    summary = ", ".join(f"{n} {verb}" for verb, n in sorted(counts.items())) or "nothing to change"
    ctx.info(f"Applied: {summary}", {"restored": restored, "commands": counts})


@click.command("status")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option(
    "-c", "--column", "columns", multiple=True, metavar="COLUMN", help="Show only this port column."
)
@click.option(
    "--counters",
    is_flag=True,
    help="Packets and bytes per bound port and per counting rule (from the kernel).",
)
@click.pass_obj
def status(ctx: Context, fmt: str, columns: tuple[str, ...], counters: bool) -> None:
    """Compare the kernel with the store: drift, agent, devices, dropped unbound guest ports.

    \b
    Per port: its filter, owner (user, cloud, host), whether its device exists, whether the kernel holds
    what the store says (kernel), how it is enforced and the addresses learned for it. Above: whether
    the kernel equals the store, whether an agent runs (pid, last repair), where the host settings come
    from. Exit status: 0 when everything the store claims is enforced, 1 when something is wrong (the
    kernel differs, a cloud object's binding or filter is missing, a bound port cannot be enforced).
    With --counters: what the kernel counted per bound port and per counting rule (docs/logging.md).
    """
    if counters:
        from guestwall.cli.counters import show_counters

        show_counters(ctx, "json" if fmt == "json" else "table")
        return
    from guestwall.agent.statefile import read_agent
    from guestwall.cloud.integrity import missing
    from guestwall.dataplane.apply import plan
    from guestwall.dataplane.links import list_links
    from guestwall.engine.desired import desired_state
    from guestwall.services.hostsettings import host_config, stored_settings
    from guestwall.services.status import agent_text, build_report, port_row

    with reported():
        store = ctx.store(create=False)
        with store.read() as reader:
            config = host_config(reader)
            settings = "store" if stored_settings(reader) is not None else (config.source or "defaults")
            links = list_links(ctx.netns)
            desired = desired_state(reader, config, links.values(), strict=False)
            report = build_report(
                records=reader.bindings(),
                learned=reader.learned_addresses(),
                desired=desired,
                drift=plan(desired.compiled.ruleset, backend_for(ctx)),
                links=links,
                config=config,
                agent=read_agent(ctx.netns),
                missing=missing(reader),
                settings=settings,
            )
    headers = ["portdev", "filter", "owner", "device", "kernel", "enforcement", "learned"]
    rows = [dict(port_row(p)) for p in report.ports]
    if fmt == "table":
        kernel = "in sync with the store" if report.in_sync else "DIFFERS from the store"
        click.echo(f"Kernel:        {kernel}")
        for command in report.drift:
            click.echo(f"  missing:     {command}")
        click.echo(f"Agent:         {agent_text(report.agent)}")
        click.echo(f"Host settings: {report.settings}")
        click.echo("")
        emit(fmt, rows, headers, columns)
        for problem in report.problems:
            click.echo(f"problem: {problem}")
    elif fmt == "json" and not columns:
        click.echo(json.dumps(report.as_json(), indent=2, default=str))
    else:
        emit(fmt, rows, headers, columns)
    if report.problems:
        sys.exit(1)
