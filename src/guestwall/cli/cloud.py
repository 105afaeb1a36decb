"""The cloud layer's commands: ``guestwall port``, ``guestwall secgroup`` and ``guestwall provider``.

Rich tables for people, ``--format json`` for scripts. Changes are enforced in the network namespace the
command runs in (or ``--netns``), where connections that lose their rule are also killed. Invalid input
(CIDRs, port ranges, ICMP types and codes, unknown groups) is one ``error:`` line, and nothing is stored.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

from guestwall.cli.context import Context, reported

if TYPE_CHECKING:
    from guestwall.cloud.service import Cloud
    from guestwall.model.cloud import Port, ProviderBlock, SecurityGroup, SecurityGroupRule

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_PROJECT = "default"


def _cloud(ctx: Context, enforcing: bool = True) -> Cloud:
    """The use cases on the command's store; changes enforced in its namespace (not needed for reads)."""
    from guestwall.cloud.conntrack import ConntrackTool
    from guestwall.cloud.service import Cloud

    if not enforcing:
        return Cloud(ctx.store(create=False), None)
    # another host's connections are that host's business: only a kernel here gets its flows killed
    return Cloud(ctx.store(), ctx.engine(), None if ctx.remote else ConntrackTool(ctx.netns))


def _format_option(function: F) -> F:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["table", "json", "yaml", "value"]),
        default="table",
        show_default=True,
        help="Output as a table, JSON, YAML or bare values.",
    )(function)


def _after(cloud: Cloud) -> None:
    """Report what the change did beyond itself: killed connections, warnings (stderr)."""
    for warning in cloud.last.warnings:
        click.echo(f"warning: {warning}", err=True)
    if cloud.last.killed:
        click.echo(f"killed {len(cloud.last.killed)} connection(s) that the rules no longer allow", err=True)


def _columns() -> tuple[str, ...]:
    ctx = click.get_current_context(silent=True)
    obj = ctx.find_object(Context) if ctx is not None else None
    return obj.columns if obj is not None else ()


def _emit(fmt: str, data: Any, table: Callable[[], Any]) -> None:
    columns = _columns()
    if fmt == "json" and not columns:
        click.echo(json.dumps(data, indent=2))
        return
    if fmt != "table" or columns:
        from guestwall.cli.output import emit

        emit(fmt, data, [], columns)
        return
    from rich.console import Console

    # an address, a MAC or an id is never broken over two lines: the table is as wide as it needs; and
    # cells are text, not markup or emoji codes (rich turned fd77::1:1234:5678 into an emoji)
    Console(width=10_000, emoji=False, markup=False, highlight=False).print(table())


def _done(ctx: Context, lines: Sequence[str], data: list[dict[str, Any]]) -> None:
    """What a delete or unblock did: virsh-like lines, or ``data`` in the --format asked for."""
    if ctx.fmt != "table" or ctx.columns:
        from guestwall.cli.output import emit

        emit(ctx.fmt, data, [], ctx.columns)
        return
    for line in lines:
        click.echo(line)


def _table(title: str | None, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> Any:
    from rich.table import Column, Table

    table = Table(*(Column(h, overflow="fold") for h in headers), title=title, title_justify="left")
    for row in rows:
        table.add_row(*row)
    return table


def _fields(title: str, pairs: Sequence[tuple[str, str]]) -> Any:
    from rich.table import Column, Table

    table = Table("Field", Column("Value", overflow="fold"), title=title, title_justify="left")
    for key, value in pairs:
        table.add_row(key, value)
    return table


# ---- JSON shapes --------------------------------------------------------------------------------------


def _group_names(cloud: Cloud) -> dict[str, str]:
    return {g.id: g.name for g in cloud.list_groups()}


def port_json(port: Port, names: dict[str, str]) -> dict[str, Any]:
    from guestwall.cloud.translate import port_filter_name

    return {
        "id": port.id,
        "name": port.name,
        "device": port.device,
        "mac": str(port.mac),
        "project": port.project,
        "fixed_ips": [str(a) for a in port.fixed_ips],
        "allowed_address_pairs": [str(n) for n in port.allowed_address_pairs],
        "security_groups": [{"id": g, "name": names.get(g, "")} for g in port.security_groups],
        "port_security": port.port_security,
        "dhcp_server": port.dhcp_server,
        "filter": port_filter_name(port),
    }


def rule_json(rule: SecurityGroupRule, names: dict[str, str]) -> dict[str, Any]:
    return {
        "id": rule.id,
        "security_group_id": rule.group_id,
        "direction": rule.direction.value,
        "ethertype": rule.ethertype.value,
        "protocol": rule.protocol,
        "port_range_min": rule.port_min,
        "port_range_max": rule.port_max,
        "icmp_type": rule.icmp_type,
        "icmp_code": rule.icmp_code,
        "remote_ip_prefix": None if rule.remote_cidr is None else str(rule.remote_cidr),
        "remote_group_id": rule.remote_group_id,
        "remote_group": names.get(rule.remote_group_id or ""),
        "description": rule.description,
        "log": rule.log,
    }


def group_json(group: SecurityGroup, names: dict[str, str]) -> dict[str, Any]:
    from guestwall.cloud.translate import group_filter_name

    return {
        "id": group.id,
        "name": group.name,
        "project": group.project,
        "description": group.description,
        "filter": group_filter_name(group.id),
        "rules": [rule_json(r, names) for r in group.rules],
    }


def block_json(block: ProviderBlock) -> dict[str, Any]:
    return {
        "id": block.id,
        "cidr": str(block.cidr),
        "protocol": block.protocol,
        "port_range_min": block.port_min,
        "port_range_max": block.port_max,
        "description": block.description,
        "log": block.log,
    }


def _range(lo: int | None, hi: int | None) -> str:
    if lo is None:
        return "any"
    return str(lo) if hi in (None, lo) else f"{lo}:{hi}"


def _rule_cells(rule: SecurityGroupRule, names: dict[str, str]) -> list[str]:
    if rule.icmp_type is not None:
        detail = f"type {rule.icmp_type}" + (f" code {rule.icmp_code}" if rule.icmp_code is not None else "")
    elif rule.protocol in ("tcp", "udp", "sctp"):
        detail = _range(rule.port_min, rule.port_max)
    else:
        detail = ""
    if rule.remote_group_id is not None:
        remote = f"group {names.get(rule.remote_group_id, rule.remote_group_id)}"
    else:
        remote = str(rule.remote_cidr) if rule.remote_cidr is not None else "any"
    return [rule.id, rule.direction.value, rule.ethertype.value, rule.protocol or "any", detail, remote]


_RULE_HEADERS = ("ID", "Direction", "Ethertype", "Protocol", "Ports / ICMP", "Remote")


def _port_fields(port: Port, names: dict[str, str]) -> list[tuple[str, str]]:
    data = port_json(port, names)
    return [
        ("id", port.id),
        ("name", port.name),
        ("device", port.device),
        ("mac", str(port.mac)),
        ("project", port.project),
        ("fixed_ips", ", ".join(data["fixed_ips"]) or "-"),
        ("allowed_address_pairs", ", ".join(data["allowed_address_pairs"]) or "-"),
        ("security_groups", ", ".join(g["name"] or g["id"] for g in data["security_groups"]) or "-"),
        ("port_security", "on" if port.port_security else "off"),
        ("dhcp_server", "yes" if port.dhcp_server else "no"),
        ("filter", data["filter"]),
    ]


def _show_port(fmt: str, port: Port, names: dict[str, str]) -> None:
    _emit(fmt, port_json(port, names), lambda: _fields(f"port {port.device}", _port_fields(port, names)))


def _show_group(fmt: str, group: SecurityGroup, names: dict[str, str]) -> None:
    def table() -> Any:
        from rich.console import Group

        head = _fields(
            f"security group {group.name}",
            [
                ("id", group.id),
                ("name", group.name),
                ("project", group.project),
                ("description", group.description or "-"),
                ("filter", group_json(group, names)["filter"]),
            ],
        )
        rules = _table("rules", _RULE_HEADERS, [_rule_cells(r, names) for r in group.rules])
        return Group(head, rules)

    _emit(fmt, group_json(group, names), table)


# ---- port -----------------------------------------------------------------------------------------------


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
@_format_option
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
        cloud = _cloud(ctx)
        created = cloud.create_port(new)
        names = _group_names(cloud)
    _after(cloud)
    _show_port(fmt, created, names)


@port.command("list")
@click.option("--project", default=None, help="Only this project's ports.")
@_format_option
@click.pass_obj
def port_list(ctx: Context, project: str | None, fmt: str) -> None:
    """List ports."""
    with reported():
        cloud = _cloud(ctx, enforcing=False)
        ports = cloud.list_ports(project)
        names = _group_names(cloud)
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
    _emit(fmt, [port_json(p, names) for p in ports], lambda: _table(None, headers, rows))


@port.command("show")
@click.argument("port_ref", metavar="PORT")
@_format_option
@click.pass_obj
def port_show(ctx: Context, port_ref: str, fmt: str) -> None:
    """Show a port (by device, id or a unique start of its id)."""
    with reported():
        cloud = _cloud(ctx, enforcing=False)
        found = cloud.get_port(port_ref)
        names = _group_names(cloud)
    _show_port(fmt, found, names)


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
@_format_option
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

    def edit(current: Port, group_id: Callable[[str], str]) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        if fixed_ips or no_fixed_ip:
            changes["fixed_ips"] = tuple(v.fixed_ip(a) for a in fixed_ips)
        if pairs or no_pairs:
            changes["allowed_address_pairs"] = tuple(v.network(n, "allowed address pair") for n in pairs)
        if mac is not None:
            changes["mac"] = v.mac(mac)
        fields = {"port_security": port_security, "dhcp_server": dhcp_server, "name": name}
        changes.update({k: value for k, value in fields.items() if value is not None})
        if groups or no_groups or add_groups or remove_groups:
            wanted = [group_id(g) for g in groups]
            base = wanted if (groups or no_groups) else list(current.security_groups)
            added = [group_id(g) for g in add_groups]
            removed = {group_id(g) for g in remove_groups}
            changes["security_groups"] = tuple(g for g in dict.fromkeys([*base, *added]) if g not in removed)
        return changes

    _port_edit(ctx, port_ref, fmt, edit)


def _port_edit(
    ctx: Context, port_ref: str, fmt: str, edit: Callable[[Port, Callable[[str], str]], dict[str, Any]]
) -> None:
    """Apply ``edit`` (the port, a group resolver -> changed fields) and show the port."""
    from guestwall.cloud.service import resolve_group
    from guestwall.store.cloudrepo import CloudRepo

    with reported():
        cloud = _cloud(ctx)
        current = cloud.get_port(port_ref)
        with cloud.store.read() as reader:
            repo = CloudRepo(reader)
            changes = edit(current, lambda g: resolve_group(repo, g, current.project).id)
        updated = cloud.update_port(port_ref, **changes)
        names = _group_names(cloud)
    _after(cloud)
    _show_port(fmt, updated, names)


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
@_format_option
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

    def edit(port: Port, group_id: Callable[[str], str]) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        if fixed_ips or no_fixed_ip:
            base = () if no_fixed_ip else port.fixed_ips
            changes["fixed_ips"] = tuple(dict.fromkeys((*base, *(v.fixed_ip(a) for a in fixed_ips))))
        if pairs or no_pairs:
            kept = () if no_pairs else port.allowed_address_pairs
            new = (v.network(n, "allowed address pair") for n in pairs)
            changes["allowed_address_pairs"] = tuple(dict.fromkeys((*kept, *new)))
        if groups or no_groups:
            current = () if no_groups else port.security_groups
            changes["security_groups"] = tuple(dict.fromkeys((*current, *(group_id(g) for g in groups))))
        fields = {"port_security": port_security, "dhcp_server": dhcp_server, "name": name}
        changes.update({k: value for k, value in fields.items() if value is not None})
        if mac is not None:
            changes["mac"] = v.mac(mac)
        return changes

    _port_edit(ctx, port_ref, fmt, edit)


@port.command("unset")
@click.argument("port_ref", metavar="PORT")
@click.option("--fixed-ip", "fixed_ips", multiple=True, metavar="IP", help="Remove a fixed address.")
@click.option("--allowed-address-pair", "pairs", multiple=True, metavar="CIDR", help="Remove a pair.")
@click.option("--security-group", "groups", multiple=True, metavar="GROUP", help="Remove from a group.")
@_format_option
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

    def edit(port: Port, group_id: Callable[[str], str]) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        if fixed_ips:
            gone = {v.fixed_ip(a) for a in fixed_ips}
            changes["fixed_ips"] = tuple(a for a in port.fixed_ips if a not in gone)
        if pairs:
            dropped = {v.network(n, "allowed address pair") for n in pairs}
            kept = port.allowed_address_pairs
            changes["allowed_address_pairs"] = tuple(n for n in kept if n not in dropped)
        if groups:
            removed = {group_id(g) for g in groups}
            changes["security_groups"] = tuple(g for g in port.security_groups if g not in removed)
        return changes

    _port_edit(ctx, port_ref, fmt, edit)


@port.command("delete")
@click.argument("port_refs", nargs=-1, required=True, metavar="PORT...")
@click.pass_obj
def port_delete(ctx: Context, port_refs: tuple[str, ...]) -> None:
    """Delete ports and their filters."""
    lines, data = [], []
    with reported():
        cloud = _cloud(ctx)
        for ref in port_refs:
            gone = cloud.delete_port(ref)
            _after(cloud)
            lines.append(f"Port {gone.device} ({gone.id}) deleted")
            data.append({"id": gone.id, "device": gone.device, "deleted": True})
    _done(ctx, lines, data)


# ---- secgroup -------------------------------------------------------------------------------------------


@click.group("secgroup")
def secgroup() -> None:
    """Security groups and their rules (Neutron semantics: rules accept, everything else is dropped)."""


@secgroup.command("create")
@click.argument("name")
@click.option("--project", default=DEFAULT_PROJECT, show_default=True)
@click.option("--description", default="")
@_format_option
@click.pass_obj
def secgroup_create(ctx: Context, name: str, project: str, description: str, fmt: str) -> None:
    """Create a group. It allows all egress, and ingress from its own members (as Neutron's default group)."""
    with reported():
        cloud = _cloud(ctx)
        group = cloud.create_group(name, project, description)
        names = _group_names(cloud)
    _show_group(fmt, group, names)


@secgroup.command("list")
@click.option("--project", default=None, help="Only this project's groups.")
@_format_option
@click.pass_obj
def secgroup_list(ctx: Context, project: str | None, fmt: str) -> None:
    """List security groups."""
    with reported():
        cloud = _cloud(ctx, enforcing=False)
        groups = cloud.list_groups(project)
        names = {g.id: g.name for g in cloud.list_groups()}
    rows = [[g.name, g.id, g.project, str(len(g.rules)), g.description] for g in groups]
    headers = ("Name", "ID", "Project", "Rules", "Description")
    _emit(fmt, [group_json(g, names) for g in groups], lambda: _table(None, headers, rows))


@secgroup.command("show")
@click.argument("group_ref", metavar="GROUP")
@click.option("--project", default=None, help="Look the name up in this project.")
@_format_option
@click.pass_obj
def secgroup_show(ctx: Context, group_ref: str, project: str | None, fmt: str) -> None:
    """Show a group and its rules (by name, id or a unique start of its id)."""
    with reported():
        cloud = _cloud(ctx, enforcing=False)
        group = cloud.get_group(group_ref, project)
        names = _group_names(cloud)
    _show_group(fmt, group, names)


@secgroup.command("delete")
@click.argument("group_refs", nargs=-1, required=True, metavar="GROUP...")
@click.option("--project", default=None, help="Look names up in this project.")
@click.pass_obj
def secgroup_delete(ctx: Context, group_refs: tuple[str, ...], project: str | None) -> None:
    """Delete groups that no port is in (rules naming them as remote go with them)."""
    lines, data = [], []
    with reported():
        cloud = _cloud(ctx)
        for ref in group_refs:
            gone = cloud.delete_group(ref, project)
            _after(cloud)
            lines.append(f"Security group {gone.name} ({gone.id}) deleted")
            data.append({"id": gone.id, "name": gone.name, "deleted": True})
    _done(ctx, lines, data)


@secgroup.command("rule-create")
@click.argument("group_ref", metavar="GROUP")
@click.option("--direction", default=None, help="ingress or egress (default: ingress).")
@click.option("--ingress", "ingress", is_flag=True, help="As --direction ingress (OpenStack's flag).")
@click.option("--egress", "egress", is_flag=True, help="As --direction egress (OpenStack's flag).")
@click.option("--ethertype", default=None, help="IPv4 or IPv6 (default: the remote IP's, else IPv4).")
@click.option(
    "--protocol", default=None, help="tcp, udp, icmp, icmpv6, sctp, ... a number, or any (default)."
)
@click.option(
    "--port-range",
    "--dst-port",
    "port_range",
    default=None,
    metavar="MIN[:MAX]",
    help="Destination ports (tcp, udp, sctp).",
)
@click.option("--icmp-type", default=None, help="ICMP type 0-255 or any.")
@click.option("--icmp-code", default=None, help="ICMP code 0-255 or any (needs --icmp-type).")
@click.option("--remote-ip", default=None, metavar="CIDR", help="Remote addresses (default: anywhere).")
@click.option("--remote-group", default=None, metavar="GROUP", help="Remote group: its members' addresses.")
@click.option("--description", default="")
@click.option("--log", is_flag=True, help="Log what this rule accepts (new connections; docs/logging.md).")
@click.option("--project", default=None, help="Look group names up in this project.")
@_format_option
@click.pass_obj
def secgroup_rule_create(
    ctx: Context,
    group_ref: str,
    direction: str | None,
    ingress: bool,
    egress: bool,
    ethertype: str | None,
    protocol: str | None,
    port_range: str | None,
    icmp_type: str | None,
    icmp_code: str | None,
    remote_ip: str | None,
    remote_group: str | None,
    description: str,
    log: bool,
    project: str | None,
    fmt: str,
) -> None:
    """Add an accept rule to GROUP."""
    from guestwall.cloud import validate as v
    from guestwall.cloud.service import RuleSpec
    from guestwall.model.cloud import Ethertype

    given = {d for d, on in (("ingress", ingress), ("egress", egress), (direction or "", direction)) if on}
    if len(given) > 1:
        raise click.UsageError(f"conflicting directions: {' and '.join(sorted(given))}")
    chosen = given.pop() if given else "ingress"
    with reported():
        cidr = v.network(remote_ip, "remote IP prefix") if remote_ip is not None else None
        ether = (
            v.ethertype(ethertype)
            if ethertype
            else (Ethertype.IPV6 if cidr and cidr.version == 6 else Ethertype.IPV4)
        )
        proto = v.protocol(protocol, ether)
        spec = RuleSpec(
            direction=v.direction(chosen),
            ethertype=ether,
            protocol=proto,
            ports=v.port_range(port_range) if port_range is not None else None,
            icmp_type=v.icmp_value(icmp_type, "type"),
            icmp_code=v.icmp_value(icmp_code, "code"),
            remote_cidr=cidr,
            remote_group=remote_group,
            description=description,
            log=log,
        )
        cloud = _cloud(ctx)
        rule = cloud.create_rule(group_ref, spec, project)
        names = _group_names(cloud)
    _emit(fmt, rule_json(rule, names), lambda: _table(None, _RULE_HEADERS, [_rule_cells(rule, names)]))


@secgroup.command("rule-list")
@click.argument("group_ref", metavar="GROUP")
@click.option("--project", default=None, help="Look the name up in this project.")
@_format_option
@click.pass_obj
def secgroup_rule_list(ctx: Context, group_ref: str, project: str | None, fmt: str) -> None:
    """List a group's rules."""
    with reported():
        cloud = _cloud(ctx, enforcing=False)
        group = cloud.get_group(group_ref, project)
        names = _group_names(cloud)
    rows = [_rule_cells(r, names) for r in group.rules]
    _emit(fmt, [rule_json(r, names) for r in group.rules], lambda: _table(None, _RULE_HEADERS, rows))


@secgroup.command("set")
@click.argument("group_ref", metavar="GROUP")
@click.option("--name", default=None, help="A new name.")
@click.option("--description", default=None, help="A new description.")
@click.option("--project", default=None, help="Look the name up in this project.")
@_format_option
@click.pass_obj
def secgroup_set(
    ctx: Context, group_ref: str, name: str | None, description: str | None, project: str | None, fmt: str
) -> None:
    """Rename a group or change its description."""
    with reported():
        cloud = _cloud(ctx, enforcing=False)
        group = cloud.update_group(group_ref, project, name=name, description=description)
        names = _group_names(cloud)
    _show_group(fmt, group, names)


@secgroup.command("rule-delete")
@click.argument("rule_refs", nargs=-1, required=True, metavar="RULE...")
@click.pass_obj
def secgroup_rule_delete(ctx: Context, rule_refs: tuple[str, ...]) -> None:
    """Delete rules (by id or a unique start of it); connections they allowed are killed."""
    lines, data = [], []
    with reported():
        cloud = _cloud(ctx)
        for ref in rule_refs:
            gone = cloud.delete_rule(ref)
            _after(cloud)
            lines.append(f"Security group rule {gone.id} deleted")
            data.append({"id": gone.id, "deleted": True})
    _done(ctx, lines, data)


# ---- provider -------------------------------------------------------------------------------------------


@click.group("provider")
def provider() -> None:
    """Provider blocks: CIDRs blocked for every guest, ahead of all security groups."""


def _block_args(protocol: str | None, port_range: str | None) -> tuple[str | None, tuple[int, int] | None]:
    from guestwall.cloud import validate as v

    proto = None if protocol is None or protocol.lower() in ("any", "all", "") else protocol.lower()
    if proto not in (None, "tcp", "udp", "icmp"):
        raise v.CloudInputError(
            f"invalid protocol '{protocol}' for a provider block: expected any, tcp, udp or icmp"
        )
    return proto, v.port_range(port_range) if port_range is not None else None


@provider.command("block")
@click.argument("cidr")
@click.option("--protocol", default=None, help="tcp, udp or icmp (default: all traffic).")
@click.option(
    "--port-range",
    "--dst-port",
    "port_range",
    default=None,
    metavar="MIN[:MAX]",
    help="Destination ports (tcp, udp).",
)
@click.option("--description", default="")
@click.option("--force", is_flag=True, help="Allow blocking every address (0.0.0.0/0 or ::/0).")
@click.option("--log", is_flag=True, help="Log what this block drops (docs/logging.md).")
@_format_option
@click.pass_obj
def provider_block(
    ctx: Context,
    cidr: str,
    protocol: str | None,
    port_range: str | None,
    description: str,
    force: bool,
    log: bool,
    fmt: str,
) -> None:
    """Block CIDR for every guest on every host; connections from it are killed."""
    from guestwall.cloud import validate as v

    with reported():
        net = v.network(cidr)
        proto, ports = _block_args(protocol, port_range)
        cloud = _cloud(ctx)
        block = cloud.block(net, proto, ports, description, force=force, log=log)
    _after(cloud)
    _emit(fmt, block_json(block), lambda: _blocks_table([block]))


@provider.command("unblock")
@click.argument("ref", metavar="CIDR|ID")
@click.option("--protocol", default=None, help="The protocol the block was made with.")
@click.option("--port-range", "--dst-port", "port_range", default=None, metavar="MIN[:MAX]")
@click.pass_obj
def provider_unblock(ctx: Context, ref: str, protocol: str | None, port_range: str | None) -> None:
    """Remove a block, by CIDR (with the protocol and ports it was made with) or by id."""
    with reported():
        proto, ports = _block_args(protocol, port_range)
        cloud = _cloud(ctx)
        gone = cloud.unblock(ref, proto, ports)
    _done(
        ctx,
        [f"Unblocked {block.cidr} ({block.id})" for block in gone],
        [{"id": block.id, "cidr": str(block.cidr), "unblocked": True} for block in gone],
    )


@provider.command("list")
@_format_option
@click.pass_obj
def provider_list(ctx: Context, fmt: str) -> None:
    """List provider blocks."""
    with reported():
        blocks = _cloud(ctx, enforcing=False).list_blocks()
    _emit(fmt, [block_json(b) for b in blocks], lambda: _blocks_table(blocks))


def _blocks_table(blocks: Sequence[ProviderBlock]) -> Any:
    rows = [
        [b.id, str(b.cidr), b.protocol or "any", _range(b.port_min, b.port_max), b.description]
        for b in blocks
    ]
    return _table(None, ("ID", "CIDR", "Protocol", "Ports", "Description"), rows)
