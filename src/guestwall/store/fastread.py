"""Read-only fast path for SQLite stores with the stdlib sqlite3 module, for the read-only CLI commands.

Importing SQLAlchemy alone costs more than ``nwfilter-list``'s start-up budget (150 ms), so list, dumpxml
and lookups read the file directly when it exists, is at the current schema revision and has been seeded.
``open_fast`` returns None otherwise and the caller uses the SQLAlchemy store, which also migrates.
Implements records.Reader over the same tables; tests check that both paths return the same records.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from ipaddress import ip_address
from typing import TYPE_CHECKING
from urllib.parse import quote
from uuid import UUID

from guestwall.errors import StoreError
from guestwall.store.records import (
    SCHEMA_REVISION,
    BindingGroup,
    BindingRecord,
    Change,
    FilterRecord,
    LearnedAddress,
    this_host,
)

if TYPE_CHECKING:
    from guestwall.model.addressset import AddressSet
    from guestwall.store.addresssets import SetDelta

_FILTER = "SELECT uuid, name, xml, updated_at FROM filters"
_BINDING = "SELECT portdev, port_id, filter_name, xml, created_at, host FROM bindings WHERE host = ?"
_ADDRESS = "SELECT portdev, ip, source, learned_at, expires_at FROM learned_addresses WHERE host = ?"


def sqlite_path(url: str) -> str | None:
    """The file of a plain ``sqlite:///PATH`` URL (no driver options, no query); None for anything else."""
    for prefix in ("sqlite:///", "sqlite+pysqlite:///"):
        if url.startswith(prefix):
            path = url[len(prefix) :]
            if path and path != ":memory:" and "?" not in path and not path.startswith("file:"):
                return path
    return None


def open_fast(url: str, host: str | None = None) -> FastStore | None:
    path = sqlite_path(url)
    if path is None or not os.path.isfile(path):
        return None
    try:
        connection = sqlite3.connect(
            f"file:{quote(path)}?mode=ro", uri=True, timeout=30, isolation_level=None
        )
    except sqlite3.Error:
        return None
    try:
        (revision,) = connection.execute("SELECT version_num FROM alembic_version").fetchone() or (None,)
        row = connection.execute("SELECT builtins_seeded_at FROM store_state WHERE id = 1").fetchone()
    except sqlite3.Error:
        revision, row = None, None
    if revision != SCHEMA_REVISION or row is None or row[0] is None:
        connection.close()
        return None
    return FastStore(connection, path, host if host is not None else this_host())


class FastStore:
    """A read-only store over one sqlite3 connection (implements records.ReadableStore)."""

    def __init__(self, connection: sqlite3.Connection, path: str, host: str) -> None:
        self.connection = connection
        self.path = path
        self.host = host

    @contextmanager
    def read(self) -> Iterator[FastReader]:
        try:
            self.connection.execute("BEGIN")  # one snapshot for all reads of the block
            try:
                yield FastReader(self.connection, self.host)
            finally:
                self.connection.execute("ROLLBACK")
        except sqlite3.Error as e:
            raise StoreError(f"store {self.path}: {e}") from e

    def close(self) -> None:
        self.connection.close()


class FastReader:
    """Bindings and learned addresses of host ``host`` only, as SqlReader."""

    def __init__(self, connection: sqlite3.Connection, host: str) -> None:
        self.connection = connection
        self.host = host

    def log_floor(self) -> int:
        row = self.connection.execute("SELECT log_floor FROM store_state WHERE id = 1").fetchone()
        return int(row[0])

    def changes_after(self, revision: int) -> list[Change]:
        rows = self.connection.execute(
            "SELECT revision, entity, key, host FROM store_changes WHERE revision > ? ORDER BY revision, seq",
            (revision,),
        )
        return [Change(r[0], r[1], r[2], r[3]) for r in rows]

    def generation(self) -> int:
        row = self.connection.execute("SELECT generation FROM store_state WHERE id = 1").fetchone()
        return int(row[0])

    def filters(self) -> list[FilterRecord]:
        return [_filter(row) for row in self.connection.execute(f"{_FILTER} ORDER BY name")]

    def filter_by_name(self, name: str) -> FilterRecord | None:
        row = self.connection.execute(f"{_FILTER} WHERE name = ?", (name,)).fetchone()
        return None if row is None else _filter(row)

    def filter_by_uuid(self, uuid: UUID) -> FilterRecord | None:
        row = self.connection.execute(f"{_FILTER} WHERE uuid = ?", (str(uuid),)).fetchone()
        return None if row is None else _filter(row)

    def bindings(self) -> list[BindingRecord]:
        rows = self.connection.execute(f"{_BINDING} ORDER BY portdev", (self.host,))
        return [_binding(row) for row in rows]

    def bound_filters(self) -> set[str]:
        rows = self.connection.execute(
            "SELECT DISTINCT filter_name FROM bindings WHERE host = ?", (self.host,)
        )
        return {row[0] for row in rows}

    def binding_groups(self, filter_names: Sequence[str]) -> list[BindingGroup]:
        marks = ", ".join("?" for _ in filter_names)
        query = (
            "SELECT b.portdev, b.port_id, b.filter_name, b.xml, b.created_at, b.host, b.params "
            "FROM bindings b JOIN (SELECT MIN(port_id) AS port_id FROM bindings "
            f"WHERE host = ? AND filter_name IN ({marks}) GROUP BY filter_name, params) g "
            "ON b.port_id = g.port_id"
        )
        rows = self.connection.execute(query, (self.host, *filter_names))
        return [BindingGroup(r[2], r[6], _binding(r[:6])) for r in rows]

    def count_bindings(self, filter_name: str) -> int:
        row = self.connection.execute(
            "SELECT COUNT(*) FROM bindings WHERE host = ? AND filter_name = ?", (self.host, filter_name)
        ).fetchone()
        return int(row[0])

    def binding(self, portdev: str) -> BindingRecord | None:
        row = self.connection.execute(f"{_BINDING} AND portdev = ?", (self.host, portdev)).fetchone()
        return None if row is None else _binding(row)

    def learned_addresses(self, portdev: str | None = None) -> list[LearnedAddress]:
        if portdev is None:
            rows = self.connection.execute(f"{_ADDRESS} ORDER BY portdev, ip", (self.host,))
        else:
            rows = self.connection.execute(f"{_ADDRESS} AND portdev = ? ORDER BY ip", (self.host, portdev))
        return [
            LearnedAddress(
                portdev, ip_address(ip), source, _time(learned), _time(expires) if expires else None
            )
            for portdev, ip, source, learned, expires in rows
        ]

    def address_set_names(self) -> list[str]:
        return [row[0] for row in self.connection.execute("SELECT name FROM address_sets ORDER BY name")]

    def address_set_delta(self, name: str) -> SetDelta | None:
        return None  # read only: no transaction here writes

    def address_sets(self, names: Collection[str] | None = None) -> list[AddressSet]:
        from guestwall.store.addresssets import parse_address_set  # imports the model: not at start-up

        query = "SELECT name, networks FROM address_sets"
        wanted = sorted(names) if names is not None else []
        if names is not None:
            query += f" WHERE name IN ({', '.join('?' for _ in wanted)})"
        rows = self.connection.execute(f"{query} ORDER BY name", wanted)
        return [parse_address_set(name, networks) for name, networks in rows]


def _time(value: str) -> datetime:
    # SQLAlchemy stores naive UTC as 'YYYY-MM-DD HH:MM:SS.ffffff'.
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def _filter(row: tuple[str, str, str, str]) -> FilterRecord:
    return FilterRecord(uuid=UUID(row[0]), name=row[1], xml=row[2], updated_at=_time(row[3]))


def _binding(row: tuple[str, int, str, str, str, str]) -> BindingRecord:
    return BindingRecord(
        portdev=row[0], port_id=row[1], filter=row[2], xml=row[3], created_at=_time(row[4]), host=row[5]
    )
