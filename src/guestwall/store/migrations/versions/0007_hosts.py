"""Many hosts: bindings belong to a host; a change log with revisions in commit order; per-host status.

``bindings.host``: existing bindings belong to the host that runs the upgrade (they were enforced there).
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
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bindings") as batch:
        batch.add_column(sa.Column("host", sa.String(), server_default="", nullable=False))
        batch.create_index("ix_bindings_host", ["host"])
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
    if op.get_context().as_sql:
        return
    connection = op.get_bind()
    connection.execute(sa.text("UPDATE bindings SET host = :h"), {"h": socket.gethostname()})
    # the log starts now: changes before this revision were never logged
    connection.execute(sa.text("UPDATE store_state SET log_floor = generation"))


def downgrade() -> None:
    op.drop_table("hosts")
    op.drop_table("store_changes")
    with op.batch_alter_table("store_state") as batch:
        batch.drop_column("log_floor")
    with op.batch_alter_table("bindings") as batch:
        batch.drop_index("ix_bindings_host")
        batch.drop_column("host")
