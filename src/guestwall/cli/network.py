"""virsh-compatible network commands: net-define, -undefine, -start, -destroy, -autostart, -list, -info,
-dumpxml, -edit, -update, -dhcp-leases (names, arguments, messages and tables as virsh 9.0's, recorded in
tests/golden/libvirt/networks), plus guestwall's net-port-attach (a guest port on a network's bridge).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from guestwall.cli.context import Context, reported
from guestwall.cli.nwfilter import _ask_reedit, _run_editor, read_input_file, required
from guestwall.errors import GuestwallError

F = TypeVar("F", bound=Callable[..., Any])


def _network_option(function: F) -> F:
    function = click.option("--network", "network_named", metavar="NETWORK", help="Network name or uuid.")(
        function
    )
    return click.argument("network", required=False, metavar="NETWORK")(function)


def _not_found(name: str) -> str:
    return f"failed to get network '{name}'"


def _lifecycle(
    ctx: Context, verb: str, given: tuple[str | None, str | None], done: str, run: Callable[[Any, str], str]
) -> None:
    """net-undefine, -start, -destroy: ``run(service, name)`` on the named network, then say ``done``."""
    from guestwall.networks import service

    name = required(f"net-{verb}", "network", *given)
    with reported(f"Failed to {verb} network {name}", not_found=_not_found(name)):
        result = run(service, name)
    ctx.info(done.format(result))


@click.command("net-define")
@click.argument("file", required=False, metavar="FILE")
@click.option("--file", "file_named", metavar="FILE", help="File containing an XML network description.")
@click.option("--validate", is_flag=True, help="Validate the XML against the schema.")
@click.pass_obj
def define(ctx: Context, file: str | None, file_named: str | None, validate: bool) -> None:
    """Define (but don't start) a network from an XML FILE."""
    from guestwall.networks import service

    path = required("net-define", "file", file, file_named)
    with reported():
        xml = read_input_file(path)
    with reported(f"Failed to define network from {path}"):
        net = service.define(ctx.store(), xml, ctx.netns)
    ctx.info(f"Network {net.name} defined from {path}")


@click.command("net-undefine")
@_network_option
@click.pass_obj
def undefine(ctx: Context, network: str | None, network_named: str | None) -> None:
    """Undefine a persistent network (an active one becomes transient)."""
    _lifecycle(
        ctx,
        "undefine",
        (network, network_named),
        "Network {} has been undefined",
        lambda service, name: service.undefine(ctx.store(), name, ctx.netns),
    )


@click.command("net-start")
@_network_option
@click.pass_obj
def start(ctx: Context, network: str | None, network_named: str | None) -> None:
    """Start an inactive network: bridge, dnsmasq, host rules."""
    _lifecycle(
        ctx,
        "start",
        (network, network_named),
        "Network {} started",
        lambda service, name: service.start(ctx.store(), name, ctx.netns, engine=ctx.engine()),
    )


@click.command("net-destroy")
@_network_option
@click.pass_obj
def destroy(ctx: Context, network: str | None, network_named: str | None) -> None:
    """Stop an active network."""
    _lifecycle(
        ctx,
        "destroy",
        (network, network_named),
        "Network {} destroyed",
        lambda service, name: service.destroy(ctx.store(), name, ctx.netns, engine=ctx.engine()),
    )


@click.command("net-autostart")
@_network_option
@click.option("--disable", is_flag=True, help="Disable autostarting.")
@click.pass_obj
def autostart(ctx: Context, network: str | None, network_named: str | None, disable: bool) -> None:
    """Autostart a network (the agent starts it when it starts)."""
    from guestwall.networks import service

    name = required("net-autostart", "network", network, network_named)
    verb = "unmark" if disable else "mark"
    with reported(f"failed to {verb} network {name} as autostarted", not_found=_not_found(name)):
        done = service.set_autostart(ctx.store(), name, not disable)
    ctx.info(f"Network {done} {verb}ed as autostarted")


@click.command("net-list")
@click.option("--all", "all_", is_flag=True, help="List inactive and active networks.")
@click.option("--inactive", is_flag=True, help="List inactive networks.")
@click.option("--persistent", is_flag=True)
@click.option("--transient", is_flag=True)
@click.option("--autostart", "autostart_", is_flag=True)
@click.option("--no-autostart", is_flag=True)
@click.option("--name", "names_only", is_flag=True, help="List network names only.")
@click.option("--uuid", "uuids_only", is_flag=True, help="List uuids only.")
@click.pass_obj
def list_(ctx: Context, all_: bool, inactive: bool, persistent: bool, transient: bool, autostart_: bool,
          no_autostart: bool, names_only: bool, uuids_only: bool) -> None:  # fmt: skip
    """List networks (active ones by default)."""
    from guestwall.cli.output import virsh_table
    from guestwall.networks import service

    with reported("Failed to list networks"):
        recs = service.records(ctx.store(create=False))
    shown = []
    for r in recs:
        if not all_ and (r.active == inactive):
            continue
        if (persistent and not r.persistent) or (transient and r.persistent):
            continue
        if (autostart_ and not r.autostart) or (no_autostart and r.autostart):
            continue
        shown.append(r)
    if names_only or uuids_only:
        for r in shown:
            click.echo(r.uuid if uuids_only else r.name)
        ctx.done()
        return
    yes_no = {True: "yes", False: "no"}
    rows = [
        (r.name, "active" if r.active else "inactive", yes_no[r.autostart], yes_no[r.persistent])
        for r in shown
    ]
    headers = ("Name", "State", "Autostart", "Persistent")
    click.echo(virsh_table(headers, rows, header=not ctx.quiet), nl=False)
    ctx.done()


@click.command("net-info")
@_network_option
@click.pass_obj
def info(ctx: Context, network: str | None, network_named: str | None) -> None:
    """Basic information about a network."""
    from guestwall.networks import service

    name = required("net-info", "network", network, network_named)
    with reported(not_found=_not_found(name)):
        r = service.get(ctx.store(create=False), name)
    yes_no = {True: "yes", False: "no"}
    for label, value in (
        ("Name:", r.name),
        ("UUID:", r.uuid),
        ("Active:", yes_no[r.active]),
        ("Persistent:", yes_no[r.persistent]),
        ("Autostart:", yes_no[r.autostart]),
        ("Bridge:", r.bridge),
    ):
        click.echo(f"{label:<15} {value}")
    ctx.done()


@click.command("net-dumpxml")
@_network_option
@click.option("--inactive", is_flag=True, help="The persistent definition of an active network.")
@click.pass_obj
def dumpxml(ctx: Context, network: str | None, network_named: str | None, inactive: bool) -> None:
    """Network information in XML."""
    from guestwall.networks import service

    name = required("net-dumpxml", "network", network, network_named)
    with reported(not_found=_not_found(name)):
        xml = service.get(ctx.store(create=False), name).current_xml(inactive)
    click.echo(xml, nl=False)
    ctx.done()


@click.command("net-edit")
@_network_option
@click.pass_obj
def edit(ctx: Context, network: str | None, network_named: str | None) -> None:
    """Edit a network's persistent XML in $VISUAL or $EDITOR and redefine it."""
    import tempfile

    from guestwall.networks import service

    name = required("net-edit", "network", network, network_named)
    with reported(not_found=_not_found(name)):
        original = service.get(ctx.store(create=False), name).current_xml(inactive=True)
    handle, path = tempfile.mkstemp(prefix="guestwall", suffix=".xml")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(original)
        while True:
            with reported():
                _run_editor(path)
                edited = read_input_file(path)
            if edited == original.encode():
                ctx.info(f"Network {name} XML configuration not changed.")
                return
            try:
                net = service.define(ctx.store(), edited, ctx.netns)
            except GuestwallError as e:
                click.echo(f"error: {e.virsh_text()}", err=True)
            else:
                ctx.info(f"Network {net.name} XML configuration edited.")
                return
            if _ask_reedit("Failed.") == "n":
                ctx.done()
                sys.exit(1)
    finally:
        os.unlink(path)


@click.command("net-update")
@_network_option
@click.argument("command", required=False)
@click.argument("section", required=False)
@click.argument("xml", required=False)
@click.option("--parent-index", type=int, default=None, help="Which <ip> element to modify (0-based).")
@click.option("--config", is_flag=True, help="Affect the persistent definition.")
@click.option("--live", is_flag=True, help="Affect the running network.")
@click.option("--current", is_flag=True, help="Affect the current state (live if active).")
@click.pass_obj
def update(ctx: Context, network: str | None, network_named: str | None, command: str | None,
           section: str | None, xml: str | None, parent_index: int | None, config: bool, live: bool,
           current: bool) -> None:  # fmt: skip
    """Update parts of a network's definition (ip-dhcp-host: add, add-first, add-last, delete, modify)."""
    from guestwall.networks import service

    name = required("net-update", "network", network, network_named)
    command = required("net-update", "command", command, None)
    section = required("net-update", "section", section, None)
    xml = required("net-update", "xml", xml, None)
    if not xml.lstrip().startswith("<"):  # as virsh: not XML, so a file holding it
        with reported():
            xml = read_input_file(xml).decode()
    with reported(f"Failed to update network {name}", not_found=_not_found(name)):
        result = service.update(
            ctx.store(), name, command, section, xml, parent_index=parent_index, live=live, config=config,
            netns=ctx.netns,
        )  # fmt: skip
    # virsh ends this message without its usual empty line
    if result.config and result.live:
        message = f"Updated network {result.name} persistent config and live state"
    elif result.live:
        message = f"Updated network {result.name} live state"
    else:
        message = f"Updated network {result.name} persistent config"
    if not ctx.quiet:
        click.echo(message)


@click.command("net-dhcp-leases")
@_network_option
@click.option("--mac", default=None, help="MAC address.")
@click.pass_obj
def dhcp_leases(ctx: Context, network: str | None, network_named: str | None, mac: str | None) -> None:
    """Print lease info for a given network."""
    import time

    from guestwall.cli.output import virsh_table
    from guestwall.networks import service

    name = required("net-dhcp-leases", "network", network, network_named)
    with reported(f"Failed to get leases info for {name}", not_found=_not_found(name)):
        net, leases = service.dhcp_leases(ctx.store(create=False), name, ctx.netns)
    prefixes = {ip.version: ip.address.network.prefixlen for ip in reversed(net.ips)}
    rows = [
        (
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(lease.expiry)),
            lease.mac,
            f"ipv{lease.version}",
            f"{lease.ip}/{prefixes.get(lease.version, 32 if lease.version == 4 else 128)}",
            lease.hostname or "-",
            lease.client_id or "-",
        )
        for lease in sorted(leases, key=lambda item: item.mac)
        if mac is None or lease.mac == mac.lower()
    ]
    headers = ("Expiry Time", "MAC address", "Protocol", "IP address", "Hostname", "Client ID or DUID")
    click.echo(virsh_table(headers, rows, header=not ctx.quiet), nl=False)
    ctx.done()


@click.command("net-port-attach")
@click.argument("network")
@click.argument("port")
@click.option(
    "--portgroup", default=None, help="The portgroup whose VLAN the port gets (default: the default)."
)
@click.pass_obj
def port_attach(ctx: Context, network: str, port: str, portgroup: str | None) -> None:
    """Attach a guest's host-side PORT to an active network's bridge (its portgroup's VLAN, isolation)."""
    from guestwall.networks import service

    with reported(f"Failed to attach {port} to network {network}", not_found=_not_found(network)):
        done = service.attach(ctx.store(), network, port, portgroup, ctx.netns)
    ctx.info(f"Port {port} attached to network {done}")
