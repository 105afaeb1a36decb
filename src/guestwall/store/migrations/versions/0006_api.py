"""The REST API's needs: tokens (stored hashed, bound to a project and a role), revision numbers and update
times on groups and ports (If-Match), a shared flag on groups, Neutron's port fields (network, owner, host),
address groups and rules that name one as their remote side.

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("project", sa.String(), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("digest", name="uq_api_tokens_digest"),
    )
    op.create_table(
        "cloud_address_groups",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("project", sa.String(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("addresses", sa.Text(), nullable=False),
        sa.Column("revision_number", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_cloud_address_groups"),
    )
    op.create_index("ix_cloud_address_groups_project", "cloud_address_groups", ["project"])
    with op.batch_alter_table("cloud_security_groups") as batch:
        batch.add_column(sa.Column("revision_number", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("updated_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("shared", sa.Boolean(), server_default="0", nullable=False))
    # no foreign key (SQLite cannot add one to an existing table): the cloud layer refuses to delete an
    # address group a rule names
    op.add_column(
        "cloud_security_group_rules",
        sa.Column("remote_address_group_id", sa.String(length=36), nullable=True),
    )
    op.create_index(
        "ix_cloud_security_group_rules_remote_address_group_id",
        "cloud_security_group_rules",
        ["remote_address_group_id"],
    )
    with op.batch_alter_table("cloud_ports") as batch:
        batch.add_column(sa.Column("revision_number", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("updated_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("network_id", sa.String(length=64), server_default="", nullable=False))
        batch.add_column(sa.Column("device_owner", sa.String(length=255), server_default="", nullable=False))
        batch.add_column(sa.Column("host", sa.String(length=255), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("cloud_ports") as batch:
        for column in ("host", "device_owner", "network_id", "updated_at", "revision_number"):
            batch.drop_column(column)
    op.drop_index("ix_cloud_security_group_rules_remote_address_group_id", "cloud_security_group_rules")
    with op.batch_alter_table("cloud_security_group_rules") as batch:
        batch.drop_column("remote_address_group_id")
    with op.batch_alter_table("cloud_security_groups") as batch:
        for column in ("shared", "updated_at", "revision_number"):
            batch.drop_column(column)
    op.drop_index("ix_cloud_address_groups_project", "cloud_address_groups")
    op.drop_table("cloud_address_groups")
    op.drop_table("api_tokens")
