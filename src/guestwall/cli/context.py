"""What every command shares: the store URL, the target network namespace, and virsh-style messages/errors."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import click

from guestwall.errors import GuestwallError

DEFAULT_DB_URL = "sqlite:////var/lib/guestwall/guestwall.db"


@dataclass
class Context:
    db_url: str | None
    netns: str | None
    quiet: bool

    @property
    def url(self) -> str:
        return self.db_url or DEFAULT_DB_URL

    def info(self, message: str) -> None:
        """A success message as virsh prints it: the line, then an empty line; nothing with ``-q``."""
        if not self.quiet:
            click.echo(message)
            click.echo("")


@contextmanager
def reported(first_line: str | None = None) -> Iterator[None]:
    """Turn a GuestwallError into virsh's error lines on stderr and exit status 1.

    virsh prints the command's own message (``first_line``), then the libvirt error with its code phrase,
    and one empty line on stdout.
    """
    try:
        yield
    except GuestwallError as e:
        if first_line:
            click.echo(f"error: {first_line}", err=True)
        click.echo(f"error: {e.virsh_text()}", err=True)
        click.echo("")
        sys.exit(1)
