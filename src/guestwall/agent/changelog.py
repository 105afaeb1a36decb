"""The agent's wake-up from the store: PostgreSQL LISTEN on a connection of its own, as a hint only.

A notification says "a revision was committed"; what changed is read from the change log (store_changes),
from the revision the agent last applied. Notifications are not replayed (one sent while this connection
was down is gone), so the agent also polls, slowly while it listens, quickly while it does not, and catches
up from the log each time it (re)connects. SQLite has no notifications: the agent polls.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from guestwall.store.records import Store

log = logging.getLogger("guestwall.agent")

RECONNECT = 1.0  # seconds between attempts to listen again
LISTENING_POLL = 2.0  # poll interval while notifications arrive (a guard against a lost one)


class Listener:
    """``LISTEN guestwall`` on a dedicated, autocommit connection; ``fileno`` for the agent's selector."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.connection: Any = None
        self._fd = -1

    @staticmethod
    def supported(store: Store) -> bool:
        return bool(getattr(store, "is_postgres", False))

    def connect(self) -> bool:
        """Listen; False (logged) when the database cannot be reached."""
        from sqlalchemy import exc

        from guestwall.store.sqlstore import NOTIFY_CHANNEL

        engine = getattr(self.store, "engine", None)
        if engine is None:
            return False
        try:
            pooled = engine.raw_connection()
            connection = pooled.driver_connection
            pooled.detach()  # ours for good: never handed back to the pool, closed by close()
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(f"LISTEN {NOTIFY_CHANNEL}")
        except (exc.SQLAlchemyError, OSError, Exception) as e:  # psycopg2 errors have no common base here
            log.warning("cannot listen for store changes (%s); polling", str(e).strip().splitlines()[0])
            return False
        self.connection = connection
        self._fd = int(connection.fileno())  # kept: a broken connection no longer tells it
        return True

    def fileno(self) -> int:
        return self._fd

    def read(self) -> tuple[list[str], bool]:
        """(payloads received, in commit order; whether the connection still works)."""
        if self.connection is None:
            return [], False
        try:
            self.connection.poll()
        except Exception as e:  # the server went away (restart, network): listen again later
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            log.warning("store notifications stopped (%s); polling until listening again", reason)
            return [], False
        payloads = [str(n.payload) for n in self.connection.notifies]
        self.connection.notifies.clear()
        return payloads, True

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(Exception):  # already broken
                self.connection.close()
            self.connection = None
