"""What the cloud layer's commands (cli/port.py, cli/secgroup.py, cli/provider.py) share: the use cases on
the command's store, the --format option, reporting what a change did, and the JSON and table shapes.

Rich tables for people, ``--format json`` for scripts. Changes are enforced in the network namespace the
command runs in (or ``--netns``), where connections that lose their rule are also killed. Invalid input
(CIDRs, port ranges, ICMP types and codes, unknown groups) is one ``error:`` line, and nothing is stored.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

from guestwall.cli.context import Context

if TYPE_CHECKING:
    from guestwall.cloud.facade import Cloud
    from guestwall.cloud.outcome import Outcome
    from guestwall.model.cloud import Port, ProviderBlock, SecurityGroup, SecurityGroupRule

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_PROJECT = "default"


def open_cloud(ctx: Context, enforcing: bool = True) -> Cloud:
    """The use cases on the command's store; changes enforced in its namespace (not needed for reads)."""
    from guestwall.cloud.conntrack import ConntrackTool
    from guestwall.cloud.facade import Cloud

    if not enforcing:
        return Cloud(ctx.store(create=False), None)
    # another host's connections are that host's business: only a kernel here gets its flows killed
    return Cloud(ctx.store(), ctx.engine(), None if ctx.remote else ConntrackTool(ctx.netns))


def format_option(function: F) -> F:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["table", "json", "yaml", "value"]),
        default="table",
        show_default=True,
        help="Output as a table, JSON, YAML or bare values.",
    )(function)


def after_change(outcome: Outcome[object]) -> None:
    """Report what the change did beyond itself: killed connections, warnings (stderr)."""
    for warning in outcome.warnings:
        click.echo(f"warning: {warning}", err=True)
    if outcome.killed:
        click.echo(f"killed {len(outcome.killed)} connection(s) that the rules no longer allow", err=True)


def _columns() -> tuple[str, ...]:
    ctx = click.get_current_context(silent=True)
    obj = ctx.find_object(Context) if ctx is not None else None
    return obj.columns if obj is not None else ()


def emit_view(fmt: str, data: Any, view: Callable[[], Any]) -> None:
    """``data`` in the --format asked for, or ``view()`` (a rich renderable) for people."""
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
    Console(width=10_000, emoji=False, markup=False, highlight=False).print(view())


def done_lines(ctx: Context, lines: Sequence[str], data: list[dict[str, Any]]) -> None:
    """What a delete or unblock did: virsh-like lines, or ``data`` in the --format asked for."""
    if ctx.fmt != "table" or ctx.columns:
        from guestwall.cli.output import emit

        emit(ctx.fmt, data, [], ctx.columns)
        return
    for line in lines:
        click.echo(line)


def table(title: str | None, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> Any:
    from rich.table import Column, Table

    table = Table(*(Column(h, overflow="fold") for h in headers), title=title, title_justify="left")
    for row in rows:
        table.add_row(*row)
    return table


def field_table(title: str, pairs: Sequence[tuple[str, str]]) -> Any:
    from rich.table import Column, Table

    table = Table("Field", Column("Value", overflow="fold"), title=title, title_justify="left")
    for key, value in pairs:
        table.add_row(key, value)
    return table


# ---- JSON shapes --------------------------------------------------------------------------------------


def group_names(cloud: Cloud) -> dict[str, str]:
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


def range_text(lo: int | None, hi: int | None) -> str:
    if lo is None:
        return "any"
    return str(lo) if hi in (None, lo) else f"{lo}:{hi}"


def rule_cells(rule: SecurityGroupRule, names: dict[str, str]) -> list[str]:
    if rule.icmp_type is not None:
        detail = f"type {rule.icmp_type}" + (f" code {rule.icmp_code}" if rule.icmp_code is not None else "")
    elif rule.protocol in ("tcp", "udp", "sctp"):
        detail = range_text(rule.port_min, rule.port_max)
    else:
        detail = ""
    if rule.remote_group_id is not None:
        remote = f"group {names.get(rule.remote_group_id, rule.remote_group_id)}"
    else:
        remote = str(rule.remote_cidr) if rule.remote_cidr is not None else "any"
    return [rule.id, rule.direction.value, rule.ethertype.value, rule.protocol or "any", detail, remote]


RULE_HEADERS = ("ID", "Direction", "Ethertype", "Protocol", "Ports / ICMP", "Remote")


def port_fields(port: Port, names: dict[str, str]) -> list[tuple[str, str]]:
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


def show_port(fmt: str, port: Port, names: dict[str, str]) -> None:
    emit_view(
        fmt, port_json(port, names), lambda: field_table(f"port {port.device}", port_fields(port, names))
    )


def show_group(fmt: str, group: SecurityGroup, names: dict[str, str]) -> None:
    def view() -> Any:
        from rich.console import Group

        head = field_table(
            f"security group {group.name}",
            [
                ("id", group.id),
                ("name", group.name),
                ("project", group.project),
                ("description", group.description or "-"),
                ("filter", group_json(group, names)["filter"]),
            ],
        )
        rules = table("rules", RULE_HEADERS, [rule_cells(r, names) for r in group.rules])
        return Group(head, rules)

    emit_view(fmt, group_json(group, names), view)
