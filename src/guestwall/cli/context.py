"""What every command shares: the store URL, the target network namespace, and virsh-style messages/errors.

virsh ends every command, failed ones included, with one empty line on stdout, which ``-q`` suppresses along
with the informational messages and table headers; ``Context.done`` and ``reported`` reproduce that.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import click

from guestwall.errors import GuestwallError, NotFoundError
from guestwall.store.records import DEFAULT_URL

if TYPE_CHECKING:
    from guestwall.dataplane.backend import Backend
    from guestwall.engine import Engine
    from guestwall.store.records import ReadableStore, Store

DEFAULT_DB_URL = DEFAULT_URL


@dataclass(frozen=True)
class Warm:
    """What a running agent lends the commands it runs for the CLI (agent.control): its store, opened once,
    and an nftables context in its namespace. A command uses them only when it names the same store, host
    and namespace; otherwise it opens its own, as in a process of its own."""

    url: str
    host: str
    netns_inode: str
    store: Callable[[], Store]
    backend: Callable[[], Backend]


_lent: list[Warm] = []  # at most one: set by agent.control around a command


def same_url(a: str, b: str) -> bool:
    """Whether two store URLs name the same store (however their query is spelt); only in the agent."""
    if a == b:
        return True
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(a) == make_url(b)
    except ArgumentError:
        return False


@contextmanager
def lent(warm: Warm) -> Iterator[None]:
    """Commands run meanwhile (in this thread) use ``warm`` where it fits."""
    _lent.append(warm)
    try:
        yield
    finally:
        _lent.remove(warm)


@dataclass
class Context:
    db_url: str | None
    netns: str | None
    quiet: bool
    fmt: str = "table"  # --format of commands that have no own (set by the common options, cli.app)
    columns: tuple[str, ...] = ()  # -c
    host: str | None = None  # None: this machine (records.this_host())
    wait: bool = False
    wait_timeout: float = 10.0
    _engine: Engine | None = field(default=None, init=False, repr=False)
    _store: Store | None = field(default=None, init=False, repr=False)
    _reader: ReadableStore | None = field(default=None, init=False, repr=False)
    _borrowed: bool = field(default=False, init=False, repr=False)  # _store is the agent's (not closed)

    @property
    def url(self) -> str:
        return self.db_url or DEFAULT_DB_URL

    def engine(self) -> Engine:
        """The one way to the kernel: this namespace's (or --netns); for another host (--host) with no
        --netns none (the change is validated and written; that host's agent enforces it). The backend is
        opened when first used; the host settings are the store's."""
        if self._engine is None:
            from guestwall.dataplane.backend import LazyBackend, NoKernel
            from guestwall.engine import Engine

            warm = self._warm_namespace()
            if self.remote:
                self._engine = Engine(NoKernel())
            else:
                self._engine = Engine(warm.backend() if warm is not None else LazyBackend(self.netns))
        return self._engine

    def _warm_store(self) -> Warm | None:
        """The agent's store, when this command runs in the agent and names the same store and host."""
        if not _lent:
            return None
        from guestwall.store.records import this_host

        warm = _lent[-1]
        return warm if same_url(warm.url, self.url) and warm.host == (self.host or this_host()) else None

    def _warm_namespace(self) -> Warm | None:
        """The agent's nftables context, when this command runs in the agent for the same namespace."""
        if not _lent:
            return None
        from guestwall.dataplane.netns import namespace_id
        from guestwall.errors import DataplaneError

        try:
            inode = namespace_id(self.netns)
        except (OSError, DataplaneError):
            return None
        return _lent[-1] if inode == _lent[-1].netns_inode else None

    def store(self, create: bool = True) -> Store:
        """The full store, opened on first use; only commands that write may create it (``create``)."""
        if self._store is None:
            warm = self._warm_store()
            if warm is not None:
                self._store, self._borrowed = warm.store(), True
            else:
                from guestwall.store import open_store

                self._store = open_store(self.url, self.host, create=create)
            _close_on_exit(self)
            if self.wait:
                _on_exit(self.wait_for_hosts)  # runs before the close above (last registered, first run)
        return self._store

    def reader(self) -> ReadableStore:
        """A read-only store: the fast sqlite3 path when possible (see store/fastread.py)."""
        if self._store is not None:
            return self._store
        if self._reader is None:
            if self._warm_store() is not None:
                return self.store(create=False)
            from guestwall.store import open_reader

            self._reader = open_reader(self.url, self.host)
            _close_on_exit(self)
        return self._reader

    @property
    def remote(self) -> bool:
        """Acting for another host, with no namespace here standing for it: write only, its agent enforces."""
        from guestwall.store.records import this_host

        return self.host is not None and self.host != this_host() and self.netns is None

    def wait_for_hosts(self) -> None:
        """--wait: after the command's last committed write, wait for the hosts it concerns."""
        from guestwall.store.hosts import wait_applied
        from guestwall.store.sqlstore import SqlStore

        store = self._store
        if not isinstance(store, SqlStore) or store.last_revision is None:
            return
        try:
            waited = wait_applied(store, store.last_revision, self.wait_timeout)
        except GuestwallError as e:
            click.echo(f"error: cannot wait for the hosts: {e}", err=True)
            sys.exit(1)
        if waited.down:
            click.echo(f"warning: not waited for (down or never seen): {', '.join(waited.down)}", err=True)
        if waited.late:
            click.echo(
                f"error: revision {waited.revision} not enforced after {self.wait_timeout:g} s on: "
                f"{', '.join(waited.late)}",
                err=True,
            )
            sys.exit(1)

    def close(self) -> None:
        for opened in (self._reader, None if self._borrowed else self._store):
            if opened is not None:
                opened.close()
        self._reader = self._store = None
        self._borrowed = False

    def info(self, message: str, data: dict[str, object] | None = None) -> None:
        """A success message as virsh prints it: the line, then an empty line; nothing with ``-q``.
        With ``--format`` json, yaml or value: ``data`` (what the command did), or the message."""
        if self.fmt != "table":
            from guestwall.cli.output import emit

            emit(self.fmt, data if data is not None else {"message": message}, [], self.columns)
            return
        if not self.quiet:
            click.echo(message)
            click.echo("")

    def done(self) -> None:
        """virsh's end-of-command empty line (not with ``-q``)."""
        if not self.quiet:
            click.echo("")


def _close_on_exit(context: Context) -> None:
    _on_exit(context.close)


def _on_exit(callback: Callable[[], None]) -> None:
    click_context = click.get_current_context(silent=True)
    if click_context is not None:
        click_context.call_on_close(callback)


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
