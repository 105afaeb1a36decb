"""Makes an opened store ready: its schema at the current Alembic revision, the builtin filters seeded once.

Runs on every ``open_store`` but costs one query when there is nothing to do. Migrating and seeding happen
in one write transaction under the store's lock, so concurrent first opens do it exactly once.
Developers: ``python -m guestwall.store.migrate revision "message" --db URL [--autogenerate]``.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any
from uuid import uuid4

from sqlalchemy import Connection, inspect, select, text

from guestwall.errors import StoreError
from guestwall.store.records import SCHEMA_REVISION
from guestwall.store.sqlstore import SqlStore, SqlWriter, create_store_engine
from guestwall.store.tables import StateRow

MIGRATIONS = Path(__file__).parent / "migrations"


def prepare_store(store: SqlStore, create: bool = True) -> None:
    probed = _probe(store)
    if probed == (SCHEMA_REVISION, True):
        return
    if probed[0] is None and not create:
        raise StoreError(f"there is no guestwall store at {store.url} (check --db or GUESTWALL_DB)")
    with store.write() as writer:
        connection = writer.session.connection()
        revision = current_revision(connection)  # again, now that we hold the lock
        if revision != SCHEMA_REVISION:
            upgrade(connection, revision)
        if not writer.builtins_seeded():
            seed_builtins(writer)


def current_revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return None if revision is None else str(revision)


def upgrade(connection: Connection, revision: str | None) -> None:
    """``alembic upgrade head`` on ``connection``, inside the caller's transaction."""
    from alembic import command
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    config = alembic_config(connection)
    if revision is not None:
        try:
            ScriptDirectory.from_config(config).get_revision(revision)
        except CommandError as e:
            raise StoreError(
                f"store schema is at revision '{revision}', which this version of guestwall does not know "
                f"(it expects '{SCHEMA_REVISION}'); was the store written by a newer guestwall?"
            ) from e
    command.upgrade(config, "head")


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def seed_builtins(writer: SqlWriter) -> None:
    """Add the builtin filters, each with a fresh random UUID, and record that this store has been seeded."""
    from guestwall.nwfilter import builtin_filters, format_filter

    for builtin in builtin_filters():
        if writer.filter_by_name(builtin.name) is not None:
            continue
        uuid = uuid4()
        writer.put_filter(uuid, builtin.name, format_filter(replace(builtin, uuid=uuid)))
    writer.mark_builtins_seeded()


def _probe(store: SqlStore) -> tuple[str | None, bool]:
    """(schema revision, builtins seeded?) without taking the write lock."""
    with store.translated(), store.engine.connect() as connection:
        revision = current_revision(connection)
        if revision != SCHEMA_REVISION:
            return revision, False
        seeded = connection.execute(select(StateRow.builtins_seeded_at).where(StateRow.id == 1)).scalar()
        return revision, seeded is not None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m guestwall.store.migrate")
    sub = parser.add_subparsers(dest="command", required=True)
    revision = sub.add_parser("revision", help="create a new migration script")
    revision.add_argument("message")
    revision.add_argument("--db", required=True, help="URL of a store at the current head (for autogenerate)")
    revision.add_argument("--autogenerate", action="store_true")
    args = parser.parse_args(argv)

    from alembic import command

    engine = create_store_engine(args.db)
    with engine.begin() as connection:
        config = alembic_config(connection, url=args.db)
        number = len(list((MIGRATIONS / "versions").glob("[0-9]*.py"))) + 1
        command.revision(config, message=args.message, autogenerate=args.autogenerate, rev_id=f"{number:04d}")


if __name__ == "__main__":
    main()
