"""Cloud ports: device_id, what a port belongs to (as Neutron's port.device_id: the instance's UUID), so the
Nova-style driver finds an instance's ports without its network information.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cloud_ports") as batch:
        batch.add_column(sa.Column("device_id", sa.String(length=64), server_default="", nullable=False))
    op.create_index("ix_cloud_ports_device_id", "cloud_ports", ["device_id"])


def downgrade() -> None:
    op.drop_index("ix_cloud_ports_device_id", "cloud_ports")
    with op.batch_alter_table("cloud_ports") as batch:
        batch.drop_column("device_id")
