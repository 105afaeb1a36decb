"""``guestwall secgroup create|list|show|set|delete|rule-create|rule-list|rule-delete``: security groups
and their rules (Neutron semantics: rules accept, everything else is dropped)."""

from __future__ import annotations

import click

from guestwall.cli.cloudcommon import (
    DEFAULT_PROJECT,
    RULE_HEADERS,
    after_change,
    done_lines,
    emit_view,
    format_option,
    group_json,
    group_names,
    open_cloud,
    rule_cells,
    rule_json,
    show_group,
    table,
)
from guestwall.cli.context import Context, reported


@click.group("secgroup")
def secgroup() -> None:
    """Security groups and their rules (Neutron semantics: rules accept, everything else is dropped)."""


@secgroup.command("create")
@click.argument("name")
@click.option("--project", default=DEFAULT_PROJECT, show_default=True)
@click.option("--description", default="")
@format_option
@click.pass_obj
def secgroup_create(ctx: Context, name: str, project: str, description: str, fmt: str) -> None:
    """Create a group. It allows all egress, and ingress from its own members (as Neutron's default group)."""
    with reported():
        cloud = open_cloud(ctx)
        group = cloud.create_group(name, project, description).value
        names = group_names(cloud)
    show_group(fmt, group, names)


@secgroup.command("list")
@click.option("--project", default=None, help="Only this project's groups.")
@format_option
@click.pass_obj
def secgroup_list(ctx: Context, project: str | None, fmt: str) -> None:
    """List security groups."""
    with reported():
        cloud = open_cloud(ctx, enforcing=False)
        groups = cloud.list_groups(project)
        names = {g.id: g.name for g in cloud.list_groups()}
    rows = [[g.name, g.id, g.project, str(len(g.rules)), g.description] for g in groups]
    headers = ("Name", "ID", "Project", "Rules", "Description")
    emit_view(fmt, [group_json(g, names) for g in groups], lambda: table(None, headers, rows))


@secgroup.command("show")
@click.argument("group_ref", metavar="GROUP")
@click.option("--project", default=None, help="Look the name up in this project.")
@format_option
@click.pass_obj
def secgroup_show(ctx: Context, group_ref: str, project: str | None, fmt: str) -> None:
    """Show a group and its rules (by name, id or a unique start of its id)."""
    with reported():
        cloud = open_cloud(ctx, enforcing=False)
        group = cloud.get_group(group_ref, project)
        names = group_names(cloud)
    show_group(fmt, group, names)


@secgroup.command("delete")
@click.argument("group_refs", nargs=-1, required=True, metavar="GROUP...")
@click.option("--project", default=None, help="Look names up in this project.")
@click.pass_obj
def secgroup_delete(ctx: Context, group_refs: tuple[str, ...], project: str | None) -> None:
    """Delete groups that no port is in (rules naming them as remote go with them)."""
    lines, data = [], []
    with reported():
        cloud = open_cloud(ctx)
        for ref in group_refs:
            deleted = cloud.delete_group(ref, project)
            after_change(deleted)
            gone = deleted.value
            lines.append(f"Security group {gone.name} ({gone.id}) deleted")
            data.append({"id": gone.id, "name": gone.name, "deleted": True})
    done_lines(ctx, lines, data)


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
@format_option
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
    from guestwall.cloud.rules import RuleSpec
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
        cloud = open_cloud(ctx)
        rule = cloud.create_rule(group_ref, spec, project).value
        names = group_names(cloud)
    emit_view(fmt, rule_json(rule, names), lambda: table(None, RULE_HEADERS, [rule_cells(rule, names)]))


@secgroup.command("rule-list")
@click.argument("group_ref", metavar="GROUP")
@click.option("--project", default=None, help="Look the name up in this project.")
@format_option
@click.pass_obj
def secgroup_rule_list(ctx: Context, group_ref: str, project: str | None, fmt: str) -> None:
    """List a group's rules."""
    with reported():
        cloud = open_cloud(ctx, enforcing=False)
        group = cloud.get_group(group_ref, project)
        names = group_names(cloud)
    rows = [rule_cells(r, names) for r in group.rules]
    emit_view(fmt, [rule_json(r, names) for r in group.rules], lambda: table(None, RULE_HEADERS, rows))


@secgroup.command("set")
@click.argument("group_ref", metavar="GROUP")
@click.option("--name", default=None, help="A new name.")
@click.option("--description", default=None, help="A new description.")
@click.option("--project", default=None, help="Look the name up in this project.")
@format_option
@click.pass_obj
def secgroup_set(
    ctx: Context, group_ref: str, name: str | None, description: str | None, project: str | None, fmt: str
) -> None:
    """Rename a group or change its description."""
    with reported():
        cloud = open_cloud(ctx, enforcing=False)
        group = cloud.update_group(group_ref, project, name=name, description=description).value
        names = group_names(cloud)
    show_group(fmt, group, names)


@secgroup.command("rule-delete")
@click.argument("rule_refs", nargs=-1, required=True, metavar="RULE...")
@click.pass_obj
def secgroup_rule_delete(ctx: Context, rule_refs: tuple[str, ...]) -> None:
    """Delete rules (by id or a unique start of it); connections they allowed are killed."""
    lines, data = [], []
    with reported():
        cloud = open_cloud(ctx)
        for ref in rule_refs:
            deleted = cloud.delete_rule(ref)
            after_change(deleted)
            gone = deleted.value
            lines.append(f"Security group rule {gone.id} deleted")
            data.append({"id": gone.id, "deleted": True})
    done_lines(ctx, lines, data)


# ---- provider -------------------------------------------------------------------------------------------
