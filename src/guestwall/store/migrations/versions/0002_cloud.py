"""Address sets (what nwfilter ipset attributes name) and the cloud layer: security groups and their rules,
ports and their groups, provider blocks.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "address_sets",
        sa.Column("name", sa.String(length=31), nullable=False),
        sa.Column("networks", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_address_sets"),
    )
    op.create_table(
        "cloud_security_groups",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("project", sa.String(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cloud_security_groups"),
    )
    op.create_index("ix_cloud_security_groups_project", "cloud_security_groups", ["project"])
    op.create_table(
        "cloud_security_group_rules",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("group_id", sa.String(length=36), nullable=False),
        sa.Column("direction", sa.String(length=7), nullable=False),
        sa.Column("ethertype", sa.String(length=4), nullable=False),
        sa.Column("protocol", sa.String(length=16), nullable=True),
        sa.Column("port_min", sa.Integer(), nullable=True),
        sa.Column("port_max", sa.Integer(), nullable=True),
        sa.Column("icmp_type", sa.Integer(), nullable=True),
        sa.Column("icmp_code", sa.Integer(), nullable=True),
        sa.Column("remote_cidr", sa.String(length=49), nullable=True),
        sa.Column("remote_group_id", sa.String(length=36), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["cloud_security_groups.id"],
            name="fk_cloud_security_group_rules_group_id_cloud_security_groups",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["remote_group_id"],
            ["cloud_security_groups.id"],
            name="fk_cloud_security_group_rules_remote_group",  # PostgreSQL: at most 63 characters
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_cloud_security_group_rules"),
    )
    op.create_index("ix_cloud_security_group_rules_group_id", "cloud_security_group_rules", ["group_id"])
    op.create_index(
        "ix_cloud_security_group_rules_remote_group_id", "cloud_security_group_rules", ["remote_group_id"]
    )
    op.create_table(
        "cloud_ports",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("device", sa.String(length=15), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("mac", sa.String(length=17), nullable=False),
        sa.Column("project", sa.String(), nullable=False),
        sa.Column("fixed_ips", sa.Text(), nullable=False),
        sa.Column("allowed_address_pairs", sa.Text(), nullable=False),
        sa.Column("port_security", sa.Boolean(), nullable=False),
        sa.Column("dhcp_server", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cloud_ports"),
        sa.UniqueConstraint("device", name="uq_cloud_ports_device"),
    )
    op.create_index("ix_cloud_ports_project", "cloud_ports", ["project"])
    op.create_table(
        "cloud_port_security_groups",
        sa.Column("port_id", sa.String(length=36), nullable=False),
        sa.Column("group_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["port_id"],
            ["cloud_ports.id"],
            name="fk_cloud_port_security_groups_port_id_cloud_ports",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["cloud_security_groups.id"],
            name="fk_cloud_port_security_groups_group_id_cloud_security_groups",
        ),
        sa.PrimaryKeyConstraint("port_id", "group_id", name="pk_cloud_port_security_groups"),
    )
    op.create_index("ix_cloud_port_security_groups_group_id", "cloud_port_security_groups", ["group_id"])
    op.create_table(
        "cloud_provider_blocks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("cidr", sa.String(length=49), nullable=False),
        sa.Column("protocol", sa.String(length=16), nullable=True),
        sa.Column("port_min", sa.Integer(), nullable=True),
        sa.Column("port_max", sa.Integer(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cloud_provider_blocks"),
    )
    op.create_index("ix_cloud_provider_blocks_cidr", "cloud_provider_blocks", ["cidr"])


def downgrade() -> None:
    op.drop_table("cloud_provider_blocks")
    op.drop_table("cloud_port_security_groups")
    op.drop_table("cloud_ports")
    op.drop_table("cloud_security_group_rules")
    op.drop_table("cloud_security_groups")
    op.drop_table("address_sets")
