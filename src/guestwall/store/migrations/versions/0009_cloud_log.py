"""Cloud layer: a ``log`` flag on security-group rules and provider blocks (the drop log records what they
accept or drop; docs/logging.md).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_TABLES = ("cloud_security_group_rules", "cloud_provider_blocks")


def upgrade() -> None:
    for table in _TABLES:  # a plain ADD COLUMN (SQLite has it): no table copy, also in --sql mode
        op.add_column(table, sa.Column("log", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("log")
