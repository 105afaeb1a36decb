"""Many hosts: bindings belong to a host; a change log with revisions in commit order; per-host status.

``bindings.host``: existing bindings belong to the host that runs the upgrade (they were enforced there).
A port device name is unique per host (libvirt's vnetN repeat on every host), so learned addresses are
keyed by host too (the table is rebuilt with its rows).
``store_changes``: one row per changed object and revision (the store generation, which writers increment
under the store's write lock in the same transaction, so revisions become visible in commit order).
``store_state.log_floor``: every change after this revision is still in the log (older ones were pruned).
``hosts``: what each host's agent reports (applied revision, heartbeat, last error, last drift repair).

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import socket

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _bindings_0004() -> sa.Table:
    """The bindings table as 0004 left it (SQLite's batch mode copies it without reflecting, offline too)."""
    return sa.Table(
        "bindings",
        sa.MetaData(),
        sa.Column("port_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("portdev", sa.String(), nullable=False),
        sa.Column("filter_name", sa.String(), nullable=False),
        sa.Column("xml", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("params", sa.String(), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("port_id", name="pk_bindings"),
        sa.UniqueConstraint("portdev", name="uq_bindings_portdev"),
        sa.Index("ix_bindings_filter_name", "filter_name"),
    )


def _learned_table(name: str) -> None:
    op.create_table(
        name,
        sa.Column("host", sa.String(), nullable=False),
        sa.Column("portdev", sa.String(), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("learned_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["host", "portdev"],
            ["bindings.host", "bindings.portdev"],
            name="fk_learned_addresses_host_bindings",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("host", "portdev", "ip", name="pk_learned_addresses"),
    )
    op.create_index("ix_learned_addresses_expires_at", name, ["expires_at"])


def upgrade() -> None:
    offline = op.get_context().as_sql
    host = socket.gethostname()
    learned = []
    if not offline:
        columns = "portdev, ip, source, learned_at, expires_at"
        learned = [
            dict(r._mapping)
            for r in op.get_bind().execute(sa.text(f"SELECT {columns} FROM learned_addresses"))
        ]
    op.drop_table("learned_addresses")
    with op.batch_alter_table("bindings", copy_from=_bindings_0004()) as batch:
        batch.add_column(sa.Column("host", sa.String(), server_default="", nullable=False))
        batch.create_index("ix_bindings_host", ["host"])
        batch.drop_constraint("uq_bindings_portdev", type_="unique")
        batch.create_unique_constraint("uq_bindings_host_portdev", ["host", "portdev"])
    if not offline:
        op.get_bind().execute(sa.text("UPDATE bindings SET host = :h"), {"h": host})
    _learned_table("learned_addresses")
    with op.batch_alter_table("store_state") as batch:
        batch.add_column(sa.Column("log_floor", sa.BigInteger(), server_default="0", nullable=False))
    op.create_table(
        "store_changes",
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(16), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("host", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("revision", "seq", name="pk_store_changes"),
    )
    op.create_table(
        "hosts",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("applied_revision", sa.BigInteger(), nullable=False),
        sa.Column("applied_at", sa.DateTime(), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", sa.DateTime(), nullable=True),
        sa.Column("last_repair_at", sa.DateTime(), nullable=True),
        sa.Column("repairs", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_hosts"),
    )
    if offline:
        return
    connection = op.get_bind()
    if learned:
        table = sa.table(
            "learned_addresses",
            *(sa.column(c) for c in ("host", "portdev", "ip", "source", "learned_at", "expires_at")),
        )
        connection.execute(table.insert(), [{**row, "host": host} for row in learned])
    # the log starts now: changes before this revision were never logged
    connection.execute(sa.text("UPDATE store_state SET log_floor = generation"))


def downgrade() -> None:
    """Only for a store with one host's bindings (device names must be unique again)."""
    op.drop_table("hosts")
    op.drop_table("store_changes")
    with op.batch_alter_table("store_state") as batch:
        batch.drop_column("log_floor")
    op.drop_table("learned_addresses")  # learned addresses are relearned
    with op.batch_alter_table("bindings") as batch:
        batch.drop_constraint("uq_bindings_host_portdev", type_="unique")
        batch.create_unique_constraint("uq_bindings_portdev", ["portdev"])
        batch.drop_index("ix_bindings_host")
        batch.drop_column("host")
    op.create_table(
        "learned_addresses",
        sa.Column("portdev", sa.String(), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("learned_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["portdev"],
            ["bindings.portdev"],
            name="fk_learned_addresses_portdev_bindings",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("portdev", "ip", name="pk_learned_addresses"),
    )
    op.create_index("ix_learned_addresses_expires_at", "learned_addresses", ["expires_at"])
