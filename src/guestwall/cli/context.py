"""What every command shares: the store URL, the target network namespace, and virsh-style messages/errors.

virsh ends every command, failed ones included, with one empty line on stdout, which ``-q`` suppresses along
with the informational messages and table headers; ``Context.done`` and ``reported`` reproduce that.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import click

from guestwall.errors import GuestwallError, NotFoundError
from guestwall.store.records import DEFAULT_URL

if TYPE_CHECKING:
    from guestwall.engine import Engine
    from guestwall.store.records import ReadableStore, Store

DEFAULT_DB_URL = DEFAULT_URL


@dataclass
class Context:
    db_url: str | None
    netns: str | None
    quiet: bool
    _engine: Engine | None = field(default=None, init=False, repr=False)
    _store: Store | None = field(default=None, init=False, repr=False)
    _reader: ReadableStore | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        return self.db_url or DEFAULT_DB_URL

    def store(self) -> Store:
        """The full (read-write) store, opened on first use."""
        if self._store is None:
            from guestwall.store import open_store

            self._store = open_store(self.url)
            _close_on_exit(self)
        return self._store

    def engine(self) -> Engine:
        """The one way to the kernel of the target namespace (its backend is opened when first used)."""
        if self._engine is None:
            from guestwall.engine import open_engine

            self._engine = open_engine(self.netns)
        return self._engine

    def reader(self) -> ReadableStore:
        """A read-only store: the fast sqlite3 path when possible (see store/fastread.py)."""
        if self._store is not None:
            return self._store
        if self._reader is None:
            from guestwall.store import open_reader

            self._reader = open_reader(self.url)
            _close_on_exit(self)
        return self._reader

    def close(self) -> None:
        for opened in (self._reader, self._store):
            if opened is not None:
                opened.close()
        self._reader = self._store = None

    def info(self, message: str) -> None:
        """A success message as virsh prints it: the line, then an empty line; nothing with ``-q``."""
        if not self.quiet:
            click.echo(message)
            click.echo("")

    def done(self) -> None:
        """virsh's end-of-command empty line (not with ``-q``)."""
        if not self.quiet:
            click.echo("")


def _close_on_exit(context: Context) -> None:
    click_context = click.get_current_context(silent=True)
    if click_context is not None:
        click_context.call_on_close(context.close)


def _quiet() -> bool:
    ctx = click.get_current_context(silent=True)
    obj = ctx.find_object(Context) if ctx is not None else None
    return obj.quiet if obj is not None else False


@contextmanager
def reported(first_line: str | None = None, *, not_found: str | None = None) -> Iterator[None]:
    """Turn a GuestwallError into virsh's error lines on stderr and exit status 1.

    virsh prints the command's own message (``first_line``; ``not_found`` instead when the object was not
    found, e.g. "failed to get nwfilter 'X'"), then the libvirt error with its code phrase, and one empty
    line on stdout (not with ``-q``).
    """
    try:
        yield
    except GuestwallError as e:
        line = not_found if isinstance(e, NotFoundError) and not_found is not None else first_line
        if line:
            click.echo(f"error: {line}", err=True)
        click.echo(f"error: {e.virsh_text()}", err=True)
        if not _quiet():
            click.echo("")
        sys.exit(1)
