"""Initial schema: store state (lock row, generation, seeding mark), filters, bindings, learned addresses.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    state = op.create_table(
        "store_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.Column("builtins_seeded_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("id = 1", name="ck_store_state_single_row"),
        sa.PrimaryKeyConstraint("id", name="pk_store_state"),
    )
    op.bulk_insert(state, [{"id": 1, "generation": 0, "builtins_seeded_at": None}])
    op.create_table(
        "filters",
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("xml", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("uuid", name="pk_filters"),
        sa.UniqueConstraint("name", name="uq_filters_name"),
    )
    op.create_table(
        "bindings",
        sa.Column("port_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("portdev", sa.String(), nullable=False),
        sa.Column("filter_name", sa.String(), nullable=False),
        sa.Column("xml", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("port_id", name="pk_bindings"),
        sa.UniqueConstraint("portdev", name="uq_bindings_portdev"),
    )
    op.create_index("ix_bindings_filter_name", "bindings", ["filter_name"])
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


def downgrade() -> None:
    op.drop_table("learned_addresses")
    op.drop_table("bindings")
    op.drop_table("filters")
    op.drop_table("store_state")
