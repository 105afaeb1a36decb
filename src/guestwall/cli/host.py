"""``guestwall host``: the hosts sharing this store (``list``: each agent's applied revision, lag,
heartbeat, last error and drift repair; down after a timeout) and moving a port to another host."""

from __future__ import annotations

import json
from datetime import datetime

import click

from guestwall.cli.context import Context, reported
from guestwall.cli.output import virsh_table


@click.group("host")
def host() -> None:
    """Hosts sharing this store: their agents' status; ports moving between them."""


def _ago(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "-"
    seconds = (now - when).total_seconds()
    return f"{seconds:.1f}s ago" if seconds < 120 else f"{seconds / 60:.0f}m ago"


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()


@host.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option(
    "--down-after",
    type=float,
    default=None,
    metavar="SECONDS",
    help="A host is down without a heartbeat for this long (default: 30).",
)
@click.pass_obj
def list_(ctx: Context, fmt: str, down_after: float | None) -> None:
    """Every host whose agent reported to this store, with the revisions it lags behind."""
    from guestwall.store.hosts import DOWN_AFTER, host_statuses
    from guestwall.store.sqlstore import SqlStore, now_utc

    limit = DOWN_AFTER if down_after is None else down_after
    with reported("failed to list hosts"):
        store = ctx.store(create=False)
        assert isinstance(store, SqlStore)
        revision, statuses = host_statuses(store)
    now = now_utc()
    if fmt == "json":
        rows = [
            {
                "host": s.name,
                "state": "down" if s.is_down(now, limit) else "up",
                "applied_revision": s.applied_revision,
                "lag": revision - s.applied_revision,
                "store_revision": revision,
                "applied_at": _iso(s.applied_at),
                "heartbeat_at": _iso(s.heartbeat_at),
                "started_at": _iso(s.started_at),
                "last_error": s.last_error,
                "last_error_at": _iso(s.last_error_at),
                "last_repair_at": _iso(s.last_repair_at),
                "repairs": s.repairs,
            }
            for s in statuses
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    headers = ["Host", "State", "Applied", "Lag", "Heartbeat", "Last repair", "Last error"]
    body = [
        [
            s.name,
            "down" if s.is_down(now, limit) else "up",
            str(s.applied_revision),
            str(revision - s.applied_revision),
            _ago(s.heartbeat_at, now),
            _ago(s.last_repair_at, now),
            (s.last_error or "-").splitlines()[0][:60],
        ]
        for s in statuses
    ]
    click.echo(virsh_table(headers, body, header=not ctx.quiet), nl=False)
    ctx.done()


@host.command("move")
@click.argument("portdev")
@click.argument("to_host", metavar="HOST")
@click.pass_obj
def move(ctx: Context, portdev: str, to_host: str) -> None:
    """Give the binding of PORTDEV to HOST: its agent enforces it, the old host's agent removes it."""
    from guestwall.services.bindings import move_binding

    with reported(f"failed to move binding '{portdev}'"):
        old = move_binding(ctx.store(), portdev, to_host, ctx.engine())
    ctx.info(f"Binding {portdev} moved from host {old} to host {to_host}")
