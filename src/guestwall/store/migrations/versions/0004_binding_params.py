"""Bindings: the names of their parameters (sorted, comma-separated), so the groups of ports that share
kernel chains (top filter + parameter names) are one query, whatever the number of ports.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_PARAM = re.compile(r"<parameter name='([^']*)'")


def upgrade() -> None:
    with op.batch_alter_table("bindings") as batch:
        batch.add_column(sa.Column("params", sa.String(), server_default="", nullable=False))
    bindings = sa.table(
        "bindings",
        sa.column("port_id", sa.Integer),
        sa.column("xml", sa.Text),
        sa.column("params", sa.String),
    )
    if op.get_context().as_sql:
        return  # an offline SQL script has no rows to read
    connection = op.get_bind()
    for port_id, xml in connection.execute(sa.select(bindings.c.port_id, bindings.c.xml)).all():
        params = ",".join(sorted(set(_PARAM.findall(xml))))
        connection.execute(bindings.update().where(bindings.c.port_id == port_id).values(params=params))


def downgrade() -> None:
    with op.batch_alter_table("bindings") as batch:
        batch.drop_column("params")
