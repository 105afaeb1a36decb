"""The store on SQLAlchemy (SQLite by default, PostgreSQL for a shared control plane).

One session per use case: ``with store.write() as w:`` takes the store-wide write lock, commits at the end and
rolls back on any exception; ``with store.read() as r:`` is a consistent snapshot. Writers in different
processes are serialised (SQLite: BEGIN IMMEDIATE; PostgreSQL: a transaction-scoped advisory lock), so
read-modify-write use cases never lose an update. Database errors leave here as StoreError.
"""

from __future__ import annotations

import os
import sqlite3
from collections import OrderedDict
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from importlib.util import find_spec
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path
from typing import Any, cast
from uuid import UUID

from sqlalchemy import (
    Engine,
    Table,
    bindparam,
    create_engine,
    delete,
    event,
    exc,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session

from guestwall.errors import ConflictError, GuestwallError, MissingStoreError, NotFoundError, StoreError
from guestwall.model import Binding
from guestwall.model.addressset import AddressSet, Network
from guestwall.store.addresssets import (
    SetDelta,
    canonical_networks,
    delta_between,
    edit_text,
    parse_address_set,
    text_delta,
)
from guestwall.store.records import (
    BindingGroup,
    BindingRecord,
    Change,
    FilterRecord,
    LearnedAddress,
    Reader,
    binding_params,
    notify_payload,
    stored_binding,
    this_host,
)
from guestwall.store.tables import (
    AddressSetRow,
    BindingRow,
    ChangeRow,
    FilterRow,
    LearnedAddressRow,
    StateRow,
)

LOCK_WAIT_SECONDS = 30
DEFAULT_PATH = "/var/lib/guestwall/guestwall.db"  # records.DEFAULT_URL's file
_WRITE_OPTION = "guestwall_write"
# Key of the PostgreSQL advisory lock that serialises writers (any fixed 64-bit number; 'gwal' in ASCII).
_PG_LOCK_KEY = 0x6777616C
# The channel a commit notifies (payload: its revision); agents LISTEN on it, as a wake-up only.
NOTIFY_CHANNEL = "guestwall"


MAX_BINDINGS = 0x7FFF


def now_utc() -> datetime:
    return datetime.now(UTC)


def _filter_record(row: FilterRow) -> FilterRecord:
    return FilterRecord(uuid=UUID(row.uuid), name=row.name, xml=row.xml, updated_at=row.updated_at)


def _binding_record(row: BindingRow) -> BindingRecord:
    return BindingRecord(
        portdev=row.portdev,
        port_id=row.port_id,
        filter=row.filter_name,
        xml=row.xml,
        created_at=row.created_at,
        host=row.host,
    )


def _binding_tuple(row: Any) -> BindingRecord:
    """A binding from a row of ``_BINDINGS``' columns (no ORM object)."""
    return BindingRecord(
        portdev=row[0], port_id=row[1], filter=row[2], xml=row[3], created_at=row[4], host=row[5]
    )


def _address_record(row: LearnedAddressRow) -> LearnedAddress:
    return LearnedAddress(
        portdev=row.portdev,
        ip=ip_address(row.ip),
        source=row.source,
        learned_at=row.learned_at,
        expires_at=row.expires_at,
    )


# The hot reads as column selects built once (rows as tuples, no ORM objects: a port added or removed reads
# its binding, its learned addresses and the filter rows, and the ORM's per-object cost was most of that).
_FILTERS = select(FilterRow.uuid, FilterRow.name, FilterRow.xml, FilterRow.updated_at)
_FILTERS_ALL = _FILTERS.order_by(FilterRow.name)
_FILTER_NAMED = _FILTERS.where(FilterRow.name == bindparam("name"))
_BINDINGS = select(
    BindingRow.portdev,
    BindingRow.port_id,
    BindingRow.filter_name,
    BindingRow.xml,
    BindingRow.created_at,
    BindingRow.host,
).where(BindingRow.host == bindparam("host"))
_BINDINGS_ALL = _BINDINGS.order_by(BindingRow.portdev)
# many rows at once into the tables themselves: no ORM objects nor ORM bulk path (1000 bindings: 10 -> 8 ms)
_INSERT_BINDINGS = insert(cast(Table, BindingRow.__table__))
_INSERT_CHANGES = insert(cast(Table, ChangeRow.__table__))
_BINDING = _BINDINGS.where(BindingRow.portdev == bindparam("portdev"))
_ADDRESSES = select(
    LearnedAddressRow.portdev,
    LearnedAddressRow.ip,
    LearnedAddressRow.source,
    LearnedAddressRow.learned_at,
    LearnedAddressRow.expires_at,
).where(LearnedAddressRow.host == bindparam("host"))
_ADDRESSES_ALL = _ADDRESSES.order_by(LearnedAddressRow.portdev, LearnedAddressRow.ip)
_ADDRESSES_OF = _ADDRESSES.where(LearnedAddressRow.portdev == bindparam("portdev")).order_by(
    LearnedAddressRow.ip
)
_SET_NAMES = select(AddressSetRow.name).order_by(AddressSetRow.name)
_TAKEN = select(BindingRow.portdev).where(
    BindingRow.host == bindparam("host"), BindingRow.portdev.in_(bindparam("names", expanding=True))
)
_COUNT = (
    select(func.count())
    .select_from(BindingRow)
    .where(BindingRow.host == bindparam("host"), BindingRow.filter_name == bindparam("filter"))
)
_PORT_IDS = select(func.max(BindingRow.port_id), func.count()).select_from(BindingRow)


def _filter_tuple(row: Any) -> FilterRecord:
    return FilterRecord(uuid=UUID(row[0]), name=row[1], xml=row[2], updated_at=row[3])


def _address_tuple(row: Any) -> LearnedAddress:
    return LearnedAddress(
        portdev=row[0], ip=ip_address(row[1]), source=row[2], learned_at=row[3], expires_at=row[4]
    )


class SqlReader:
    """Reads inside one session (implements records.Reader). Bindings and learned addresses are those of
    host ``host`` (default: records.this_host()); filters and address sets are everyone's."""

    def __init__(self, session: Session, host: str | None = None) -> None:
        self.session = session
        self.host = host if host is not None else this_host()

    def _mine(self, query: Any) -> Any:
        return query.where(BindingRow.host == self.host)

    def log_floor(self) -> int:
        return int(self.session.execute(select(StateRow.log_floor).where(StateRow.id == 1)).scalar_one())

    def changes_after(self, revision: int) -> list[Change]:
        query = (
            select(ChangeRow).where(ChangeRow.revision > revision).order_by(ChangeRow.revision, ChangeRow.seq)
        )
        return [Change(r.revision, r.entity, r.key, r.host) for r in self.session.scalars(query)]

    def generation(self) -> int:
        return int(self.session.execute(select(StateRow.generation).where(StateRow.id == 1)).scalar_one())

    def builtins_seeded(self) -> bool:
        seeded = self.session.execute(
            select(StateRow.builtins_seeded_at).where(StateRow.id == 1)
        ).scalar_one()
        return seeded is not None

    def filters(self) -> list[FilterRecord]:
        return [_filter_tuple(row) for row in self.session.execute(_FILTERS_ALL)]

    def filter_by_name(self, name: str) -> FilterRecord | None:
        row = self.session.execute(_FILTER_NAMED, {"name": name}).one_or_none()
        return None if row is None else _filter_tuple(row)

    def filter_by_uuid(self, uuid: UUID) -> FilterRecord | None:
        row = self.session.get(FilterRow, str(uuid))
        return None if row is None else _filter_record(row)

    def bindings(self) -> list[BindingRecord]:
        return [_binding_tuple(row) for row in self.session.execute(_BINDINGS_ALL, {"host": self.host})]

    def bound_filters(self) -> set[str]:
        return set(self.session.scalars(self._mine(select(BindingRow.filter_name).distinct())))

    def binding_groups(self, filter_names: Sequence[str]) -> list[BindingGroup]:
        first = (
            self._mine(select(func.min(BindingRow.port_id).label("port_id")))
            .where(BindingRow.filter_name.in_(list(filter_names)))
            .group_by(BindingRow.filter_name, BindingRow.params)
            .subquery()
        )
        query = select(BindingRow).join(first, BindingRow.port_id == first.c.port_id)
        return [
            BindingGroup(row.filter_name, row.params, _binding_record(row))
            for row in self.session.scalars(query)
        ]

    def count_bindings(self, filter_name: str) -> int:
        return int(self.session.scalar(_COUNT, {"host": self.host, "filter": filter_name}) or 0)

    def binding(self, portdev: str) -> BindingRecord | None:
        row = self.session.execute(_BINDING, {"host": self.host, "portdev": portdev}).one_or_none()
        return None if row is None else _binding_tuple(row)

    def learned_addresses(self, portdev: str | None = None) -> list[LearnedAddress]:
        if portdev is None:
            rows = self.session.execute(_ADDRESSES_ALL, {"host": self.host})
        else:
            rows = self.session.execute(_ADDRESSES_OF, {"host": self.host, "portdev": portdev})
        return [_address_tuple(row) for row in rows]

    def address_sets(self, names: Collection[str] | None = None) -> list[AddressSet]:
        query = select(AddressSetRow.name, AddressSetRow.networks).order_by(AddressSetRow.name)
        if names is not None:
            query = query.where(AddressSetRow.name.in_(list(names)))
        written = self._sets_written
        return [
            written.get(name) or parse_address_set(name, text) for name, text in self.session.execute(query)
        ]

    def address_set_names(self) -> list[str]:
        return list(self.session.scalars(_SET_NAMES))

    @property
    def _sets_written(self) -> dict[str, AddressSet]:
        return {}

    def address_set_delta(self, name: str) -> SetDelta | None:
        """How this transaction changed the kernel's copy of set ``name`` (None: it did not write it)."""
        return None

    def _binding_row(self, portdev: str, host: str | None = None) -> BindingRow | None:
        query = select(BindingRow).where(
            BindingRow.host == (host or self.host), BindingRow.portdev == portdev
        )
        return self.session.scalars(query).one_or_none()


# Entities a write can change without changing which bindings exist (see SqlWriter.binding_groups).
_NO_BINDING = frozenset({"filter", "set"})
# Binding groups by (engine, host, filter names): the engine, the revision they were found at, the groups.
_groups: OrderedDict[tuple[int, str, tuple[str, ...]], tuple[object, int, tuple[BindingGroup, ...]]] = (
    OrderedDict()
)
_STATE = select(StateRow.generation, StateRow.log_floor).where(StateRow.id == 1)
_BINDING_CHANGES = (
    select(ChangeRow.revision)
    .where(ChangeRow.revision > bindparam("revision"), ChangeRow.entity.not_in(sorted(_NO_BINDING)))
    .limit(1)
)
_GROUPS_KEPT = 64


class SqlWriter(SqlReader):
    """Writes inside the locked session (implements records.Writer); ``changed`` says whether to bump the
    generation at commit, ``log`` what goes into the change log with it. New bindings belong to ``host``
    (the writing host when None)."""

    def __init__(self, session: Session, host: str | None = None) -> None:
        super().__init__(session, host)
        self.changed = False
        self.log: dict[tuple[str, str, str | None], None] = {}  # ordered, without duplicates
        self._root = self
        # the address sets this transaction wrote, as written: reading them back parses nothing
        self._written: dict[str, AddressSet] = {}
        # how this transaction changed the kernel's copy of each set it wrote (see addresssets.SetDelta)
        self._set_deltas: dict[str, SetDelta] = {}
        # bindings this transaction added, by (host, portdev), while it does not change them again: the
        # engine reads a new binding right after it is written (one query less per port)
        self._added: dict[tuple[str, str], BindingRecord] = {}

    @property
    def _sets_written(self) -> dict[str, AddressSet]:
        return self._root._written

    def on(self, host: str) -> SqlWriter:
        """The same transaction acting for ``host`` (its bindings); what it changes is logged and committed
        with this writer's changes."""
        if host == self.host:
            return self
        view = SqlWriter(self.session, host)
        view.log, view._root = self.log, self._root
        return view

    def _note(self, entity: str, key: str, host: str | None = None) -> None:
        self.log[(entity, key, host)] = None
        self._root.changed = True
        if entity == "binding":  # changed again (or gone): read it from the session from now on
            self._root._added.pop((host or self.host, key), None)

    def binding_groups(self, filter_names: Sequence[str]) -> list[BindingGroup]:
        """As the reader's, remembered across transactions while no binding changes: a filter edit asks for
        its groups again and again, and grouping reads every binding of the filters (5000 rows). What was
        found at revision R still holds when this transaction changed no binding and the change log says
        no commit after R did (every change after ``log_floor`` is logged). Under the write lock no one
        else commits meanwhile."""
        if any(entity not in _NO_BINDING for entity, _, _ in self.log):
            return super().binding_groups(filter_names)
        bind = self.session.get_bind()
        key = (id(bind), self.host, tuple(sorted(set(filter_names))))
        generation, floor = self.session.execute(_STATE).one()
        hit = _groups.get(key)
        if hit is not None and hit[0] is bind:  # the engine is held: its id is not another's
            _, seen, groups = hit
            if seen == generation or (floor <= seen and self._no_binding_change_after(seen)):
                _groups[key] = (bind, generation, groups)
                with suppress(KeyError):  # another thread's eviction
                    _groups.move_to_end(key)
                return list(groups)
        found = super().binding_groups(filter_names)
        _groups[key] = (bind, generation, tuple(found))
        if len(_groups) > _GROUPS_KEPT:
            with suppress(KeyError):
                _groups.popitem(last=False)
        return found

    def _no_binding_change_after(self, revision: int) -> bool:
        return self.session.execute(_BINDING_CHANGES, {"revision": revision}).first() is None

    def _taken(self, portdev: str, host: str | None = None) -> ConflictError:
        return ConflictError(f"binding '{portdev}' already exists on host '{host or self.host}'")

    def put_filter(self, uuid: UUID, name: str, xml: str) -> FilterRecord:
        row = self.session.get(FilterRow, str(uuid))
        if row is None:
            row = FilterRow(uuid=str(uuid), name=name, xml=xml, updated_at=now_utc())
            self.session.add(row)
        else:
            row.name, row.xml, row.updated_at = name, xml, now_utc()
        self.session.flush()
        self._note("filter", name)
        return _filter_record(row)

    def delete_filter(self, uuid: UUID) -> None:
        row = self.session.get(FilterRow, str(uuid))
        if row is None:
            raise NotFoundError(f"no nwfilter with matching uuid '{uuid}'")
        self.session.delete(row)
        self.session.flush()
        self._note("filter", row.name)

    def add_binding(
        self, portdev: str, filter: str, xml: str, parsed: Binding | None = None
    ) -> BindingRecord:
        return self.add_bindings([(portdev, filter, xml)], None if parsed is None else [parsed])[0]

    def add_bindings(
        self, rows: Sequence[tuple[str, str, str]], parsed: Sequence[Binding] | None = None
    ) -> list[BindingRecord]:
        names = [portdev for portdev, _, _ in rows]
        taken = set(self.session.scalars(_TAKEN, {"host": self.host, "names": names}))
        seen: set[str] = set()
        for portdev in names:
            if portdev in taken or portdev in seen:
                raise self._taken(portdev)
            seen.add(portdev)
        given = parsed if parsed is not None else [None] * len(rows)
        records: list[BindingRecord] = []
        values: list[dict[str, object]] = []
        ids = self._free_port_ids(len(rows))
        for port_id, (portdev, filter_name, xml), binding in zip(ids, rows, given, strict=True):
            record = BindingRecord(portdev, port_id, filter_name, xml, now_utc(), self.host)
            records.append(record)
            values.append(
                {
                    "port_id": port_id,
                    "portdev": portdev,
                    "filter_name": filter_name,
                    "xml": xml,
                    "created_at": record.created_at,
                    "host": self.host,
                    "params": binding_params(stored_binding(record, binding)),
                }
            )
        if values:  # one multi-row insert
            self.session.execute(_INSERT_BINDINGS, values)
        for record in records:
            self._note("binding", record.portdev, record.host)
            self._root._added[(record.host, record.portdev)] = record
        return records

    def binding(self, portdev: str) -> BindingRecord | None:
        added = self._root._added.get((self.host, portdev))
        return added if added is not None else super().binding(portdev)

    def update_binding(
        self, portdev: str, filter: str, xml: str, parsed: Binding | None = None
    ) -> BindingRecord:
        row = self._binding_row(portdev)
        if row is None:
            raise NotFoundError(f"no nwfilter binding for port dev '{portdev}'")
        row.filter_name, row.xml = filter, xml
        record = _binding_record(row)
        row.params = binding_params(stored_binding(record, parsed))
        self.session.flush()
        self._note("binding", portdev, row.host)
        return record

    def move_binding(self, portdev: str, host: str) -> str:
        """Give a binding (wherever it is) to ``host``: its old host removes it, the new one enforces it.
        Returns the old host."""
        row = self._binding_row(portdev)
        if row is None:
            raise NotFoundError(f"no nwfilter binding for port dev '{portdev}' on host '{self.host}'")
        old = row.host
        if old != host:
            if self._binding_row(portdev, host) is not None:
                raise self._taken(portdev, host)
            # learned addresses stay behind (the new host learns them again): they are keyed by host
            self._forget(portdev, None)
            self._note("binding", portdev, row.host)
            self._note("address", portdev, row.host)
            row.host = host
            self.session.flush()
            self._note("binding", portdev, host)
            self._note("address", portdev, host)
        return old

    def delete_binding(self, portdev: str) -> None:
        row = self._binding_row(portdev)
        if row is None:
            raise NotFoundError(f"no nwfilter binding for port dev '{portdev}'")
        # Explicit, so that it does not depend on the backend enforcing ON DELETE CASCADE.
        self._forget(portdev, None)
        self.session.delete(row)
        self.session.flush()
        self._note("binding", portdev, row.host)

    def learn_address(
        self,
        portdev: str,
        ip: IPv4Address | IPv6Address,
        source: str,
        expires_at: datetime | None = None,
    ) -> LearnedAddress:
        binding = self._binding_row(portdev)
        if binding is None:
            raise NotFoundError(f"no nwfilter binding for port dev '{portdev}'")
        row = self.session.get(LearnedAddressRow, (self.host, portdev, str(ip)))
        if row is None:
            row = LearnedAddressRow(host=self.host, portdev=portdev, ip=str(ip))
            self.session.add(row)
        row.source, row.learned_at, row.expires_at = source, now_utc(), expires_at
        self.session.flush()
        self._note("address", portdev, binding.host)
        return _address_record(row)

    def forget_addresses(self, portdev: str, ips: Sequence[IPv4Address | IPv6Address] | None = None) -> int:
        count = self._forget(portdev, ips)
        if count:
            self._note("address", portdev, self.host)
        return count

    def _forget(self, portdev: str, ips: Sequence[IPv4Address | IPv6Address] | None) -> int:
        query = delete(LearnedAddressRow).where(
            LearnedAddressRow.host == self.host, LearnedAddressRow.portdev == portdev
        )
        if ips is not None:
            query = query.where(LearnedAddressRow.ip.in_([str(ip) for ip in ips]))
        return self._count_deleted(query)

    def expire_addresses(self, now: datetime | None = None) -> int:
        """Remove the (scoped) learned addresses whose lease ended by ``now``."""
        limit = now or now_utc()
        if limit.tzinfo is not None:
            limit = limit.astimezone(UTC).replace(tzinfo=None)
        mine = (LearnedAddressRow.host == self.host, LearnedAddressRow.expires_at <= limit)
        ports = sorted(set(self.session.scalars(select(LearnedAddressRow.portdev).where(*mine))))
        if not ports:
            return 0
        count = self._count_deleted(delete(LearnedAddressRow).where(*mine))
        for portdev in ports:
            self._note("address", portdev, self.host)
        return count

    def put_address_set(self, name: str, networks: Sequence[Network]) -> bool:
        canonical = canonical_networks(networks)
        text = "\n".join(str(n) for n in canonical)
        row = self.session.get(AddressSetRow, name)
        if row is None:
            self.session.add(AddressSetRow(name=name, networks=text, updated_at=now_utc()))
            delta = delta_between((), canonical)
        elif row.networks != text:
            delta = text_delta(row.networks, text)
            row.networks, row.updated_at = text, now_utc()
        else:
            return False
        self.session.flush()
        self._sets_written[name] = AddressSet(name, canonical)
        self._set_changed(name, delta)
        return True

    def edit_address_set(
        self, name: str, add: Sequence[Network] = (), remove: Sequence[Network] = ()
    ) -> bool:
        """Add and remove some networks of a set (created if missing), without reading the others: a set of
        thousands of provider blocks costs what the change costs. Whether that changed it."""
        row = self.session.get(AddressSetRow, name)
        old = "" if row is None else row.networks
        text, delta = edit_text(old, add, remove)
        if row is None:
            self.session.add(AddressSetRow(name=name, networks=text, updated_at=now_utc()))
        elif text != old:
            row.networks, row.updated_at = text, now_utc()
        else:
            return False
        self.session.flush()
        self._sets_written.pop(name, None)
        self._set_changed(name, delta)
        return True

    def delete_address_set(self, name: str) -> None:
        row = self.session.get(AddressSetRow, name)
        if row is None:
            raise NotFoundError(f"no address set '{name}'")
        delta = delta_between(parse_address_set(name, row.networks).networks, ())
        self.session.delete(row)
        self.session.flush()
        self._sets_written.pop(name, None)
        self._set_changed(name, delta)

    def _set_changed(self, name: str, delta: SetDelta) -> None:
        deltas = self._root._set_deltas
        deltas[name] = deltas[name].then(delta) if name in deltas else delta
        self._note("set", name)

    def address_set_delta(self, name: str) -> SetDelta | None:
        return self._root._set_deltas.get(name)

    def mark_builtins_seeded(self) -> None:
        self.session.execute(update(StateRow).where(StateRow.id == 1).values(builtins_seeded_at=now_utc()))
        self.changed = True

    def _count_deleted(self, query: Any) -> int:
        return int(self.session.execute(query).rowcount or 0)  # type: ignore[attr-defined]

    def _free_port_ids(self, count: int) -> list[int]:
        """The ``count`` smallest positive ids no binding uses (we hold the write lock: no one races us)."""
        highest, taken = self.session.execute(_PORT_IDS).one()
        if (highest or 0) == taken and taken + count <= MAX_BINDINGS:
            return list(range(taken + 1, taken + count + 1))  # no gaps: the next ids (two indexed aggregates)
        used = set(self.session.scalars(select(BindingRow.port_id)))
        free: list[int] = []
        candidate = 1
        while len(free) < count:
            if candidate > MAX_BINDINGS:  # marks carry 16 bits; the upper half is for unbound guest ports
                raise StoreError(f"no free port id: guestwall binds at most {MAX_BINDINGS} ports per store")
            if candidate not in used:
                free.append(candidate)
            candidate += 1
        return free


class SqlRepo:
    """Base of the repositories over SQL-only tables (cloud, networks): they need the SQL store, and a write
    transaction to change anything (each change marks it changed). Subclasses say what, in the messages."""

    NEEDS_SQL = "this needs the SQL store (open it with guestwall.store.open_store)"
    WRITE_ONLY = "this can only be changed in a write transaction"

    def __init__(self, reader: Reader) -> None:
        if not isinstance(reader, SqlReader):
            raise StoreError(self.NEEDS_SQL)
        self._reader = reader
        self.session = reader.session

    def _changed(self) -> None:
        if not isinstance(self._reader, SqlWriter):
            raise StoreError(self.WRITE_ONLY)
        self._reader.changed = True


class SqlStore:
    """The store (implements records.Store). Create it with ``guestwall.store.open_store``."""

    def __init__(self, engine: Engine, url: str | None = None, host: str | None = None) -> None:
        self.engine = engine
        # the host this process acts for: its bindings are the ones read and enforced, new ones are its
        self.host = host if host is not None else this_host()
        self.last_revision: int | None = None  # the revision this process's last write committed
        # As the user gave it (the engine's may name a driver the user did not), without the password.
        self.url = (make_url(url) if url else engine.url).render_as_string(hide_password=True)
        self._is_sqlite = engine.dialect.name == "sqlite"
        self._is_postgres = engine.dialect.name == "postgresql"
        self._writer_engine = engine.execution_options(**{_WRITE_OPTION: True})
        self._reader_engine = (
            engine.execution_options(isolation_level="REPEATABLE READ") if self._is_postgres else engine
        )
        self._guarded_engine = (
            engine.execution_options(isolation_level="READ COMMITTED")
            if self._is_postgres
            else self._writer_engine
        )

    @property
    def is_postgres(self) -> bool:
        return self._is_postgres

    @contextmanager
    def read(self) -> Iterator[SqlReader]:
        with self.translated(), Session(self._reader_engine) as session, session.begin():
            yield SqlReader(session, self.host)

    @contextmanager
    def guarded_read(self) -> Iterator[SqlReader]:
        """A read during which no writer commits: what an agent applies cannot be replaced half-way by a
        command that has enforced a newer state but not committed it. PostgreSQL: the writers' advisory
        lock taken shared (agents of different hosts do not wait for each other), READ COMMITTED so the
        reads see everything committed before the lock was granted; SQLite: a writer's transaction."""
        with self.translated(), Session(self._guarded_engine) as session, session.begin():
            if self._is_postgres:
                session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_WAIT_SECONDS}s'"))
                session.execute(text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": _PG_LOCK_KEY})
            yield SqlReader(session, self.host)

    @contextmanager
    def write(self) -> Iterator[SqlWriter]:
        """A write transaction under the store-wide lock. If anything changed, the generation is bumped
        and becomes the revision of the change-log rows written in the same transaction: writers hold the
        lock (and the state row's lock) until they commit, so revisions become visible in commit order and
        a reader of "revision > last applied" can never pass one that commits later (a sequence could)."""
        revision = None
        with self.translated(), Session(self._writer_engine, autoflush=True) as session, session.begin():
            if self._is_postgres:
                session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_WAIT_SECONDS}s'"))
                session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
            writer = SqlWriter(session, self.host)
            yield writer
            if writer.changed:
                revision = self._log(session, writer)
        if revision is not None:
            self.last_revision = revision

    def _log(self, session: Session, writer: SqlWriter) -> int:
        bump = (
            update(StateRow)
            .where(StateRow.id == 1)
            .values(generation=StateRow.generation + 1)
            .returning(StateRow.generation)
        )
        revision = int(session.execute(bump).scalar_one())
        rows = [
            {"revision": revision, "seq": seq, "entity": entity, "key": key, "host": host}
            for seq, (entity, key, host) in enumerate(writer.log)
        ]
        if rows:
            session.execute(_INSERT_CHANGES, rows)
        if self._is_postgres:
            session.execute(
                text("SELECT pg_notify(:channel, :payload)"),
                {
                    "channel": NOTIFY_CHANNEL,
                    "payload": notify_payload(revision, (h for _, _, h in writer.log)),
                },
            )
        return revision

    def generation(self) -> int:
        with self.read() as reader:
            return reader.generation()

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def translated(self) -> Iterator[None]:
        """Let guestwall errors pass; turn database errors into a StoreError that says what happened."""
        try:
            yield
        except GuestwallError:
            raise
        except exc.SQLAlchemyError as e:
            raise StoreError(describe_db_error(self.engine.url, e, self.url)) from e


def describe_db_error(url: URL, error: exc.SQLAlchemyError, shown: str) -> str:
    """One line for a database error: which database, and why, in words a user can act on."""
    orig = getattr(error, "orig", None)
    detail = str(orig if orig is not None else error).strip().splitlines()[0]
    if url.get_backend_name() == "sqlite":
        path = url.database or ":memory:"
        if isinstance(orig, sqlite3.OperationalError) and "locked" in detail:
            return f"store {path} is locked by another writer (waited {LOCK_WAIT_SECONDS} s)"
        if isinstance(orig, sqlite3.DatabaseError) and (
            "unable to open" in detail or "not a database" in detail or "readonly" in detail
        ):
            return f"cannot open the store database file {path}: {_why_sqlite_path_fails(path, detail)}"
        return f"store {path}: {detail}"
    if isinstance(error, exc.OperationalError) and "lock timeout" in detail:
        return f"store {shown} is locked by another writer (waited {LOCK_WAIT_SECONDS} s)"
    if isinstance(error, exc.OperationalError):
        return f"cannot use the store database {shown}: {detail}"
    return f"store {shown}: {detail}"


def _why_sqlite_path_fails(path: str, detail: str) -> str:
    p = Path(path)
    if not p.parent.is_dir():
        return f"directory {p.parent} does not exist"
    if p.is_dir():
        return "it is a directory"
    if p.exists() and not os.access(p, os.R_OK | os.W_OK):
        return "permission denied (needs read and write access)"
    if not p.exists() and not os.access(p.parent, os.W_OK | os.X_OK):
        return f"permission denied (cannot create files in {p.parent})"
    if "not a database" in detail:
        return "the file is not an SQLite database"
    if "readonly" in detail:
        return f"read-only (needs write access to {p} and its directory)"
    return detail


def create_store_engine(url: str, create: bool = True) -> Engine:
    """An engine for ``url`` with the hooks that make writers exclusive. A new SQLite store (``create``)
    gets its directory (mode 0700) and its file (0600): it holds every tenant's addresses and filters."""
    try:
        parsed = make_url(url)
    except exc.ArgumentError as e:
        raise StoreError(f"invalid store URL '{url}': expected an SQLAlchemy URL such as {_EXAMPLE}") from e
    is_sqlite = parsed.get_backend_name() == "sqlite"
    if parsed.drivername == "postgresql" and not find_spec("psycopg") and find_spec("psycopg2"):
        # SQLAlchemy 2.1 defaults postgresql:// to psycopg 3; our postgres extra installs psycopg2.
        parsed = parsed.set(drivername="postgresql+psycopg2")
    options: dict[str, Any] = {}
    if is_sqlite:
        options["connect_args"] = {"timeout": LOCK_WAIT_SECONDS}
        if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
            _prepare_sqlite_file(Path(parsed.database), create)
    try:
        engine = create_engine(parsed, **options)
    except (exc.NoSuchModuleError, exc.ArgumentError, ImportError) as e:
        raise StoreError(f"cannot use store URL '{parsed.render_as_string(hide_password=True)}': {e}") from e
    if is_sqlite:
        _install_sqlite_hooks(engine)
    return engine


def _prepare_sqlite_file(path: Path, create: bool) -> None:
    """The store file exists afterwards, private to its owner; or StoreError (missing and not ``create``)."""
    if not path.exists():
        if not create:
            raise MissingStoreError(f"there is no guestwall store at {path} (check --db or GUESTWALL_DB)")
        directory = path.parent
        try:
            if not directory.exists():
                directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(
                f"cannot open the store database file {path}: "
                f"cannot create directory {directory}: {e.strerror}"
            ) from e
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        except OSError as e:
            raise StoreError(f"cannot create the store database file {path}: {e.strerror}") from e
        return
    # made by an older guestwall with the umask's mode: no longer readable by others
    if path.is_file():
        _make_private(path, 0o600)
        if str(path) == DEFAULT_PATH:
            _make_private(path.parent, 0o700)


def _make_private(path: Path, mode: int) -> None:
    try:
        status = path.stat()
        if status.st_mode & 0o077 and status.st_uid == os.getuid():
            path.chmod(status.st_mode & mode & 0o777)
    except OSError:
        pass


_EXAMPLE = "sqlite:////var/lib/guestwall/guestwall.db or postgresql://user:password@host/dbname"


def _install_sqlite_hooks(engine: Engine) -> None:
    # pysqlite's own transaction handling defers BEGIN to the first write, which lets two writers both read
    # and then fail (or lose an update); so we switch it off and issue BEGIN ourselves: IMMEDIATE for writers,
    # which takes the database's write lock up front and waits (busy timeout) for other writers.
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {LOCK_WAIT_SECONDS * 1000}")
        # write-ahead log: a commit is one sync of the log (durable), and readers never wait for a writer
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        writer = connection.get_execution_options().get(_WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")
