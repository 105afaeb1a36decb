"""Alembic environment of the store. ``guestwall.store.migrate`` runs it programmatically, passing an open
connection (inside the store's write lock) in ``config.attributes["connection"]``; no alembic.ini is needed.

For developers, a new revision: ``python -m guestwall.store.migrate revision "message" --db URL``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from guestwall.store.tables import Base

config = context.config
connection = config.attributes.get("connection")

if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=Base.metadata)
    with context.begin_transaction():
        context.run_migrations()
elif connection is not None:
    # The caller owns the transaction (and the lock); Alembic runs inside it.
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
