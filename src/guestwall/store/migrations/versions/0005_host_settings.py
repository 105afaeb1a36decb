"""Host settings that change enforcement (guest port patterns, unbound guest ports, DHCP snooping rates)
are desired state kept in the store, not only in a configuration file that a later command may not read.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "host_settings",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_host_settings"),
    )


def downgrade() -> None:
    op.drop_table("host_settings")
