"""The agent's reports to the store's hosts table: applied revision (at once, for ``--wait``), last error,
last drift repair, and a heartbeat; the change log is pruned at heartbeat time.

A report that cannot be written (the database is down) is kept and sent with the next one: the kernel
keeps its rules whatever happens here.
"""

from __future__ import annotations

import logging
import time

from guestwall.errors import GuestwallError
from guestwall.store.records import Store

log = logging.getLogger("guestwall.agent")

HEARTBEAT = 10.0  # seconds between heartbeats (a host is down after store.hosts.DOWN_AFTER without one)


class StatusReporter:
    def __init__(self, store: Store, host: str, interval: float = HEARTBEAT) -> None:
        from guestwall.store.sqlstore import SqlStore

        self.store = store if isinstance(store, SqlStore) else None
        self.host = host
        self.interval = interval
        self.beat_at = time.monotonic()
        self._applied: int | None = None
        self._error: str | None = None
        self._repaired = False
        self._started = True
        self._sent_applied: int | None = None

    def applied(self, revision: int | None, urgent: bool = True) -> None:
        """A revision is applied: reported at once (``--wait`` waits for it), or with the next heartbeat
        (a revision that did not concern this host: nobody waits for it)."""
        if revision is not None and revision != self._sent_applied:
            self._applied = revision
            self._error = ""  # applying cleanly clears the last error
            if urgent:
                self.send()

    def error(self, message: str) -> None:
        self._error = message
        self.send()

    def repaired(self) -> None:
        self._repaired = True

    def beat(self) -> None:
        """The heartbeat timer: send what is pending (or only a heartbeat), prune the log."""
        from guestwall.store.hosts import prune_log

        if self.send() and self.store is not None:
            try:
                pruned = prune_log(self.store)
            except GuestwallError as e:
                log.debug("change log not pruned: %s", e)
            else:
                if pruned:
                    log.debug("pruned %d change-log rows", pruned)

    def send(self) -> bool:
        from guestwall.store.hosts import Report, report

        self.beat_at = time.monotonic() + self.interval
        if self.store is None:
            return False
        what = Report(self._applied, self._error, self._repaired, self._started)
        try:
            report(self.store, self.host, what)
        except GuestwallError as e:
            log.debug("status not reported (kept for the next one): %s", e)
            return False
        if self._applied is not None:
            self._sent_applied = self._applied
        self._applied, self._error, self._repaired, self._started = None, None, False, False
        return True
