"""The store: filters, bindings, learned addresses and a generation counter, in SQLite or PostgreSQL.

``open_store(url)`` gives the full store (SQLAlchemy; migrates and seeds on open). ``open_reader(url)`` gives
a read-only store, taking the stdlib-sqlite3 fast path when it can; the CLI's read-only commands use it.
This module stays light: SQLAlchemy is imported only when the full store is opened.
"""

from __future__ import annotations

from guestwall.store.records import (
    DEFAULT_URL,
    SCHEMA_REVISION,
    BindingRecord,
    FilterRecord,
    LearnedAddress,
    ReadableStore,
    Reader,
    Store,
    Writer,
)

__all__ = [
    "DEFAULT_URL",
    "SCHEMA_REVISION",
    "BindingRecord",
    "FilterRecord",
    "LearnedAddress",
    "ReadableStore",
    "Reader",
    "Store",
    "Writer",
    "open_reader",
    "open_store",
]


def open_store(url: str = DEFAULT_URL, host: str | None = None, *, create: bool = True) -> Store:
    """Open (migrating and seeding as needed) the store at an SQLAlchemy URL, acting for ``host``
    (default: records.this_host()). Raises StoreError.

    Only what writes may create a store (``create``): a read of a missing store, a typo in the URL, is an
    error rather than a new, empty store."""
    from guestwall.store.migrate import prepare_store
    from guestwall.store.sqlstore import SqlStore, create_store_engine

    store = SqlStore(create_store_engine(url, create=create), url, host)
    try:
        prepare_store(store, create=create)
    except BaseException:
        store.close()
        raise
    return store


def open_reader(url: str = DEFAULT_URL, host: str | None = None) -> ReadableStore:
    """A read-only view of the store: the sqlite3 fast path if possible, else the full store (never
    created here)."""
    from guestwall.store.fastread import open_fast

    return open_fast(url, host) or open_store(url, host, create=False)
