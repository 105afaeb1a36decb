"""Virtual networks (persistent and live definitions, autostart) and floating IPs.

Revision ID: 0008
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "networks",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("bridge", sa.String(length=15), nullable=False),
        sa.Column("xml", sa.Text(), nullable=True),
        sa.Column("live_xml", sa.Text(), nullable=True),
        sa.Column("autostart", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_networks"),
        sa.UniqueConstraint("uuid", name="uq_networks_uuid"),
        sa.UniqueConstraint("bridge", name="uq_networks_bridge"),
    )
    op.create_table(
        "floating_ips",
        sa.Column("address", sa.String(length=39), nullable=False),
        sa.Column("fixed", sa.String(length=39), nullable=False),
        sa.Column("interface", sa.String(length=15), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("address", name="pk_floating_ips"),
        sa.UniqueConstraint("fixed", name="uq_floating_ips_fixed"),
    )


def downgrade() -> None:
    op.drop_table("floating_ips")
    op.drop_table("networks")
