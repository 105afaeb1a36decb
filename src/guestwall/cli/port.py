"""``guestwall port create|list|show|update|set|unset|delete``: cloud ports (a guest interface with
anti-spoofing, security groups and provider blocks), as OpenStack's port commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from guestwall.cli.cloudcommon import (
    DEFAULT_PROJECT,
    after_change,
    done_lines,
    emit_view,
    format_option,
    group_names,
    open_cloud,
    port_json,
    show_port,
    table,
)
from guestwall.cli.context import Context, reported

if TYPE_CHECKING:
    from guestwall.cloud.ports import PortChanges
    from guestwall.model.cloud import Port


@click.group("port")
def port() -> None:
    """Cloud ports: a guest interface with anti-spoofing, security groups and provider blocks."""


@port.command("create")
@click.argument("device")
@click.option("--mac", required=True, help="The guest's MAC address.")
@click.option(
    "--fixed-ip", "fixed_ips", multiple=True, metavar="IP", help="A fixed IPv4 or IPv6 address (repeatable)."
)
@click.option(
    "--allowed-address-pair",
    "pairs",
    multiple=True,
    metavar="CIDR",
    help="An extra address or CIDR the guest may use (repeatable).",
)
@click.option(
    "--security-group", "groups", multiple=True, metavar="GROUP", help="Group name or id (repeatable)."
)
@click.option(
    "--port-security/--no-port-security",
    default=True,
    show_default=True,
    help="Without port security the port is not filtered at all.",
)
@click.option("--dhcp-server", is_flag=True, help="The guest serves DHCP/DHCPv6 (its answers pass).")
@click.option("--project", default=DEFAULT_PROJECT, show_default=True)
@click.option("--name", default="", help="A name (default: the device).")
@format_option
@click.pass_obj
def port_create(
    ctx: Context,
    device: str,
    mac: str,
    fixed_ips: tuple[str, ...],
    pairs: tuple[str, ...],
    groups: tuple[str, ...],
    port_security: bool,
    dhcp_server: bool,
    project: str,
    name: str,
    fmt: str,
) -> None:
    """Create a port for host-side DEVICE and enforce its filter at once."""
    from guestwall.cloud import validate as v
    from guestwall.model.cloud import Port

    with reported():
        new = Port(
            id="",
            device=v.device(device),
            mac=v.mac(mac),
            project=project,
            name=name,
            fixed_ips=tuple(v.fixed_ip(a) for a in fixed_ips),
            allowed_address_pairs=tuple(v.network(n, "allowed address pair") for n in pairs),
            security_groups=groups,
            port_security=port_security,
            dhcp_server=dhcp_server,
        )
        cloud = open_cloud(ctx)
        made = cloud.create_port(new)
        created = made.value
        names = group_names(cloud)
    after_change(made)
    show_port(fmt, created, names)


@port.command("list")
@click.option("--project", default=None, help="Only this project's ports.")
@format_option
@click.pass_obj
def port_list(ctx: Context, project: str | None, fmt: str) -> None:
    """List ports."""
    with reported():
        cloud = open_cloud(ctx, enforcing=False)
        ports = cloud.list_ports(project)
        names = group_names(cloud)
    rows = [
        [
            p.device,
            p.id,
            str(p.mac),
            ", ".join(str(a) for a in (*p.fixed_ips, *p.allowed_address_pairs)) or "-",
            ", ".join(names.get(g, g) for g in p.security_groups) or "-",
            "on" if p.port_security else "off",
            p.project,
        ]
        for p in ports
    ]
    headers = ("Device", "ID", "MAC", "Addresses", "Security groups", "Port security", "Project")
    emit_view(fmt, [port_json(p, names) for p in ports], lambda: table(None, headers, rows))


@port.command("show")
@click.argument("port_ref", metavar="PORT")
@format_option
@click.pass_obj
def port_show(ctx: Context, port_ref: str, fmt: str) -> None:
    """Show a port (by device, id or a unique start of its id)."""
    with reported():
        cloud = open_cloud(ctx, enforcing=False)
        found = cloud.get_port(port_ref)
        names = group_names(cloud)
    show_port(fmt, found, names)


@port.command("update")
@click.argument("port_ref", metavar="PORT")
@click.option("--fixed-ip", "fixed_ips", multiple=True, metavar="IP", help="Replace the fixed addresses.")
@click.option("--no-fixed-ip", is_flag=True, help="Remove all fixed addresses.")
@click.option(
    "--allowed-address-pair", "pairs", multiple=True, metavar="CIDR", help="Replace the address pairs."
)
@click.option("--no-allowed-address-pair", "no_pairs", is_flag=True, help="Remove all allowed address pairs.")
@click.option("--security-group", "groups", multiple=True, metavar="GROUP", help="Replace the groups.")
@click.option("--no-security-group", "no_groups", is_flag=True, help="Remove the port from all groups.")
@click.option("--add-security-group", "add_groups", multiple=True, metavar="GROUP", help="Add to a group.")
@click.option(
    "--remove-security-group", "remove_groups", multiple=True, metavar="GROUP", help="Remove from a group."
)
@click.option("--port-security/--no-port-security", default=None)
@click.option("--dhcp-server/--no-dhcp-server", default=None)
@click.option("--mac", default=None)
@click.option("--name", default=None)
@format_option
@click.pass_obj
def port_update(
    ctx: Context,
    port_ref: str,
    fixed_ips: tuple[str, ...],
    no_fixed_ip: bool,
    pairs: tuple[str, ...],
    no_pairs: bool,
    groups: tuple[str, ...],
    no_groups: bool,
    add_groups: tuple[str, ...],
    remove_groups: tuple[str, ...],
    port_security: bool | None,
    dhcp_server: bool | None,
    mac: str | None,
    name: str | None,
    fmt: str,
) -> None:
    """Change a port; access it loses is revoked at once (open connections included)."""
    from guestwall.cloud import validate as v
    from guestwall.cloud.ports import PortChanges

    def edit(current: Port, group_id: Callable[[str], str]) -> PortChanges:
        members = None
        if groups or no_groups or add_groups or remove_groups:
            wanted = [group_id(g) for g in groups]
            base = wanted if (groups or no_groups) else list(current.security_groups)
            added = [group_id(g) for g in add_groups]
            removed = {group_id(g) for g in remove_groups}
            members = tuple(g for g in dict.fromkeys([*base, *added]) if g not in removed)
        return PortChanges(
            fixed_ips=tuple(v.fixed_ip(a) for a in fixed_ips) if fixed_ips or no_fixed_ip else None,
            allowed_address_pairs=tuple(v.network(n, "allowed address pair") for n in pairs)
            if pairs or no_pairs
            else None,
            security_groups=members,
            mac=v.mac(mac) if mac is not None else None,
            port_security=port_security,
            dhcp_server=dhcp_server,
            name=name,
        )

    _port_edit(ctx, port_ref, fmt, edit)


def _port_edit(
    ctx: Context, port_ref: str, fmt: str, edit: Callable[[Port, Callable[[str], str]], PortChanges]
) -> None:
    """Apply ``edit`` (the port, a group resolver -> its changes) and show the port."""
    from guestwall.cloud.lookup import resolve_group, resolve_port
    from guestwall.store.cloudrepo import cloud_reader

    with reported():
        cloud = open_cloud(ctx)
        with cloud.store.read() as reader:  # the port and the groups its edit names, in one read
            repo = cloud_reader(reader)
            current = resolve_port(repo, port_ref)
            changes = edit(current, lambda g: resolve_group(repo, g, current.project).id)
        done = cloud.update_port(port_ref, changes)
        updated = done.value
        names = group_names(cloud)
    after_change(done)
    show_port(fmt, updated, names)


@port.command("set")
@click.argument("port_ref", metavar="PORT")
@click.option("--fixed-ip", "fixed_ips", multiple=True, metavar="IP", help="Add a fixed address.")
@click.option("--no-fixed-ip", is_flag=True, help="Remove all fixed addresses first.")
@click.option("--allowed-address-pair", "pairs", multiple=True, metavar="CIDR", help="Add an address pair.")
@click.option("--no-allowed-address-pair", "no_pairs", is_flag=True, help="Remove all address pairs first.")
@click.option("--security-group", "groups", multiple=True, metavar="GROUP", help="Add to a group.")
@click.option("--no-security-group", "no_groups", is_flag=True, help="Remove from all groups first.")
@click.option("--port-security/--no-port-security", default=None)
@click.option("--dhcp-server/--no-dhcp-server", default=None)
@click.option("--mac", default=None)
@click.option("--name", default=None)
@format_option
@click.pass_obj
def port_set(
    ctx: Context,
    port_ref: str,
    fixed_ips: tuple[str, ...],
    no_fixed_ip: bool,
    pairs: tuple[str, ...],
    no_pairs: bool,
    groups: tuple[str, ...],
    no_groups: bool,
    port_security: bool | None,
    dhcp_server: bool | None,
    mac: str | None,
    name: str | None,
    fmt: str,
) -> None:
    """Change a port as OpenStack's port set does: lists are added to (--no-X empties them first)."""
    from guestwall.cloud import validate as v
    from guestwall.cloud.ports import PortChanges

    def edit(port: Port, group_id: Callable[[str], str]) -> PortChanges:
        addresses = pairs_now = members = None
        if fixed_ips or no_fixed_ip:
            base = () if no_fixed_ip else port.fixed_ips
            addresses = tuple(dict.fromkeys((*base, *(v.fixed_ip(a) for a in fixed_ips))))
        if pairs or no_pairs:
            kept = () if no_pairs else port.allowed_address_pairs
            new = (v.network(n, "allowed address pair") for n in pairs)
            pairs_now = tuple(dict.fromkeys((*kept, *new)))
        if groups or no_groups:
            current = () if no_groups else port.security_groups
            members = tuple(dict.fromkeys((*current, *(group_id(g) for g in groups))))
        return PortChanges(
            fixed_ips=addresses,
            allowed_address_pairs=pairs_now,
            security_groups=members,
            mac=v.mac(mac) if mac is not None else None,
            port_security=port_security,
            dhcp_server=dhcp_server,
            name=name,
        )

    _port_edit(ctx, port_ref, fmt, edit)


@port.command("unset")
@click.argument("port_ref", metavar="PORT")
@click.option("--fixed-ip", "fixed_ips", multiple=True, metavar="IP", help="Remove a fixed address.")
@click.option("--allowed-address-pair", "pairs", multiple=True, metavar="CIDR", help="Remove a pair.")
@click.option("--security-group", "groups", multiple=True, metavar="GROUP", help="Remove from a group.")
@format_option
@click.pass_obj
def port_unset(
    ctx: Context,
    port_ref: str,
    fixed_ips: tuple[str, ...],
    pairs: tuple[str, ...],
    groups: tuple[str, ...],
    fmt: str,
) -> None:
    """Remove addresses, address pairs or groups from a port, as OpenStack's port unset."""
    from guestwall.cloud import validate as v
    from guestwall.cloud.ports import PortChanges

    def edit(port: Port, group_id: Callable[[str], str]) -> PortChanges:
        gone = {v.fixed_ip(a) for a in fixed_ips}
        dropped = {v.network(n, "allowed address pair") for n in pairs}
        removed = {group_id(g) for g in groups}
        return PortChanges(
            fixed_ips=tuple(a for a in port.fixed_ips if a not in gone) if fixed_ips else None,
            allowed_address_pairs=tuple(n for n in port.allowed_address_pairs if n not in dropped)
            if pairs
            else None,
            security_groups=tuple(g for g in port.security_groups if g not in removed) if groups else None,
        )

    _port_edit(ctx, port_ref, fmt, edit)


@port.command("delete")
@click.argument("port_refs", nargs=-1, required=True, metavar="PORT...")
@click.pass_obj
def port_delete(ctx: Context, port_refs: tuple[str, ...]) -> None:
    """Delete ports and their filters."""
    lines, data = [], []
    with reported():
        cloud = open_cloud(ctx)
        for ref in port_refs:
            deleted = cloud.delete_port(ref)
            after_change(deleted)
            gone = deleted.value
            lines.append(f"Port {gone.device} ({gone.id}) deleted")
            data.append({"id": gone.id, "device": gone.device, "deleted": True})
    done_lines(ctx, lines, data)


# ---- secgroup -------------------------------------------------------------------------------------------
