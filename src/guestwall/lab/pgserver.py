"""A throw-away PostgreSQL 15 server for tests and benchmarks that must restart it or need it alone:
``initdb`` in a temporary directory, run as the ``postgres`` user on a free local port, removed after.

The shared test server (GUESTWALL_TEST_PG) is never restarted by anyone; this one is ours. Durability is
off (fsync, synchronous commit): it holds nothing worth keeping.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

BIN = Path(os.environ.get("GUESTWALL_PG_BIN", "/usr/lib/postgresql/15/bin"))
_databases = itertools.count(1)


def available() -> str | None:
    """Why a private server cannot run here, or None."""
    if not (BIN / "initdb").exists():
        return f"no PostgreSQL server binaries in {BIN}"
    if os.geteuid() != 0:
        return "needs root (to run the server as the postgres user)"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "no postgres user"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgCluster:
    """The server, started; ``stat_statements``: load pg_stat_statements (queries counted per statement)."""

    def __init__(self, stat_statements: bool = False) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="gw-pg-"))
        user = pwd.getpwnam("postgres")
        os.chown(self.dir, user.pw_uid, user.pw_gid)
        self.data = self.dir / "data"
        self.port = _free_port()
        self.log = self.dir / "server.log"
        self._as_postgres(
            str(BIN / "initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        )
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300 -c shared_buffers=32MB"
        )
        if stat_statements:
            options += " -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all"
        self._options = options
        self.start()

    def _as_postgres(self, *argv: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *argv],
            check=True,
            capture_output=True,
            text=True,
            cwd=self.dir,
        )

    def _ctl(self, *argv: str) -> None:
        self._as_postgres(str(BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), *argv)

    def start(self) -> None:
        self._ctl("-o", self._options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "-w", "stop")

    def restart(self) -> None:
        self._ctl("-m", "fast", "-o", self._options, "-w", "restart")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str, database: str = "postgres") -> list[tuple[Any, ...]]:
        """One statement as the superuser, autocommit; its rows (if any)."""
        import psycopg2

        connection = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=database)
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql)
                return list(cursor.fetchall()) if cursor.description else []
        finally:
            connection.close()

    def new_database(self) -> str:
        """A fresh database; its URL."""
        name = f"gw{os.getpid()}x{next(_databases)}"
        self.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        deadline = time.monotonic() + 5
        while (self.data / "postmaster.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        shutil.rmtree(self.dir, ignore_errors=True)
