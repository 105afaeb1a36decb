"""Per-host status rows and the change log's upkeep: what each agent reports, what ``host list`` and
``--wait`` read, and pruning the log below the lowest revision every recent host has applied.

Status rows are written outside the store's write lock (an agent's report never waits for a command, and a
command never waits for a report) and do not move the store's revision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from guestwall.store.sqlstore import SqlStore, now_utc
from guestwall.store.tables import ChangeRow, HostRow, StateRow

# A host that has not reported for this long is down (Neutron: 75 s with reports every 30 s).
DOWN_AFTER = 30.0
# Hosts not seen for this long no longer hold the change log back; they take a snapshot when they return.
LOG_RETENTION = timedelta(days=1)


@dataclass(frozen=True)
class HostStatus:
    name: str
    applied_revision: int
    applied_at: datetime | None
    heartbeat_at: datetime
    started_at: datetime
    last_error: str | None
    last_error_at: datetime | None
    last_repair_at: datetime | None
    repairs: int

    def is_down(self, now: datetime, down_after: float = DOWN_AFTER) -> bool:
        return (now - self.heartbeat_at).total_seconds() > down_after


@dataclass(frozen=True)
class Report:
    """What an agent writes back. None fields leave the stored value as it is."""

    applied_revision: int | None = None
    error: str | None = None  # '' clears the last error
    repaired: bool = False
    started: bool = False


def _status(row: HostRow) -> HostStatus:
    return HostStatus(
        row.name,
        row.applied_revision,
        row.applied_at,
        row.heartbeat_at,
        row.started_at,
        row.last_error,
        row.last_error_at,
        row.last_repair_at,
        row.repairs,
    )


def report(store: SqlStore, host: str, what: Report) -> None:
    """Record a heartbeat of ``host`` with what changed (its own row only: no lock shared with writers)."""
    now = now_utc()
    with store.translated(), Session(store.engine) as session, session.begin():
        row = session.get(HostRow, host)
        if row is None:
            row = HostRow(name=host, applied_revision=0, heartbeat_at=now, started_at=now, repairs=0)
            session.add(row)
        row.heartbeat_at = now
        if what.started:
            row.started_at = now
        if what.applied_revision is not None and what.applied_revision != row.applied_revision:
            row.applied_revision, row.applied_at = what.applied_revision, now
        if what.error is not None:
            row.last_error = what.error or None
            if what.error:
                row.last_error_at = now
        if what.repaired:
            row.last_repair_at, row.repairs = now, (row.repairs or 0) + 1


def host_statuses(store: SqlStore) -> tuple[int, list[HostStatus]]:
    """(the store's revision, every host's status sorted by name)."""
    with store.read() as reader:
        revision = reader.generation()
        rows = reader.session.scalars(select(HostRow).order_by(HostRow.name))
        return revision, [_status(row) for row in rows]


def prune_log(store: SqlStore, retention: timedelta = LOG_RETENTION) -> int:
    """Delete the changes every host seen within ``retention`` has applied; returns how many went. A host
    older than that, or a new one, finds its revision below the log's floor and takes a snapshot."""
    seen_after = now_utc() - retention
    with store.translated(), Session(store.engine) as session, session.begin():
        lowest = session.scalar(
            select(func.min(HostRow.applied_revision)).where(HostRow.heartbeat_at >= seen_after)
        )
        if lowest is None:
            return 0
        floor = session.scalar(select(StateRow.log_floor).where(StateRow.id == 1)) or 0
        if lowest <= floor:
            return 0
        count = session.execute(delete(ChangeRow).where(ChangeRow.revision <= lowest)).rowcount  # type: ignore[attr-defined]
        # never lower: a concurrent prune may have gone further
        session.execute(
            update(StateRow).where(StateRow.id == 1, StateRow.log_floor < lowest).values(log_floor=lowest)
        )
        return int(count or 0)


@dataclass(frozen=True)
class Waited:
    """The outcome of waiting for a revision: who applied it, who is late, who was not waited for."""

    revision: int
    applied: tuple[str, ...]
    late: tuple[str, ...]
    down: tuple[str, ...]  # concerned but down (or never seen): not waited for; a write never waits for them


def concerned_hosts(store: SqlStore, revision: int, since: int | None = None) -> set[str] | None:
    """The hosts the changes of revisions ``since`` (exclusive; default: the one before) to ``revision``
    belong to; None when some change concerns every host."""
    first = revision - 1 if since is None else since
    with store.read() as reader:
        changes = [c for c in reader.changes_after(first) if c.revision <= revision]
    hosts: set[str] = set()
    for change in changes:
        if change.host is None:
            return None
        hosts.add(change.host)
    return hosts


def wait_applied(
    store: SqlStore,
    revision: int,
    timeout: float,
    down_after: float = DOWN_AFTER,
    interval: float = 0.02,
    since: int | None = None,
) -> Waited:
    """Wait until every live host concerned by ``revision`` (or by the revisions after ``since`` up to it)
    has applied it, or ``timeout`` seconds pass."""
    import time

    concerned = concerned_hosts(store, revision, since)
    deadline = time.monotonic() + timeout
    while True:
        _, statuses = host_statuses(store)
        now = now_utc()
        known = {s.name: s for s in statuses}
        names = set(known) if concerned is None else concerned
        down = {n for n in names if n not in known or known[n].is_down(now, down_after)}
        live = names - down
        applied = {n for n in live if known[n].applied_revision >= revision}
        late = live - applied
        if not late or time.monotonic() >= deadline:
            return Waited(revision, tuple(sorted(applied)), tuple(sorted(late)), tuple(sorted(down)))
        time.sleep(interval)
