"""``guestwall provider block|unblock|list``: CIDRs an administrator blocks for every guest, ahead of all
security groups."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from guestwall.cli.cloudcommon import (
    after_change,
    block_json,
    done_lines,
    emit_view,
    format_option,
    open_cloud,
    range_text,
    table,
)
from guestwall.cli.context import Context, reported

if TYPE_CHECKING:
    from guestwall.model.cloud import ProviderBlock


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
@format_option
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
        cloud = open_cloud(ctx)
        made = cloud.block(net, proto, ports, description, force=force, log=log)
    after_change(made)
    block = made.value
    emit_view(fmt, block_json(block), lambda: _blocks_table([block]))


@provider.command("unblock")
@click.argument("ref", metavar="CIDR|ID")
@click.option("--protocol", default=None, help="The protocol the block was made with.")
@click.option("--port-range", "--dst-port", "port_range", default=None, metavar="MIN[:MAX]")
@click.pass_obj
def provider_unblock(ctx: Context, ref: str, protocol: str | None, port_range: str | None) -> None:
    """Remove a block, by CIDR (with the protocol and ports it was made with) or by id."""
    with reported():
        proto, ports = _block_args(protocol, port_range)
        cloud = open_cloud(ctx)
        gone = cloud.unblock(ref, proto, ports).value
    done_lines(
        ctx,
        [f"Unblocked {block.cidr} ({block.id})" for block in gone],
        [{"id": block.id, "cidr": str(block.cidr), "unblocked": True} for block in gone],
    )


@provider.command("list")
@format_option
@click.pass_obj
def provider_list(ctx: Context, fmt: str) -> None:
    """List provider blocks."""
    with reported():
        blocks = open_cloud(ctx, enforcing=False).list_blocks()
    emit_view(fmt, [block_json(b) for b in blocks], lambda: _blocks_table(blocks))


def _blocks_table(blocks: Sequence[ProviderBlock]) -> Any:
    rows = [
        [b.id, str(b.cidr), b.protocol or "any", range_text(b.port_min, b.port_max), b.description]
        for b in blocks
    ]
    return table(None, ("ID", "CIDR", "Protocol", "Ports", "Description"), rows)
