"""A real ``guestwall api`` (uvicorn, 127.0.0.1, a free port) on a fresh SQLite store, enforcing in a network
namespace of its own; tokens for two projects in every role; a snapshot of the store for checking that a
refused request changed nothing."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from guestwall.lab.netns import create_netns, remove_netns, stop_process
from guestwall.services.tokens import Role, create_token
from guestwall.store import open_store

ROOT = Path(__file__).resolve().parents[2]
PROJECTS = ("p1", "p2")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ApiServer:
    db: Path
    netns: str
    port: int = field(default_factory=free_port)
    tokens: dict[tuple[str, str], str] = field(default_factory=dict)  # (project, role) -> token
    process: subprocess.Popen[bytes] | None = None
    store_url: str | None = None  # another store than the SQLite file ``db`` (e.g. PostgreSQL)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def db_url(self) -> str:
        return self.store_url or f"sqlite:///{self.db}"

    def start(self) -> ApiServer:
        create_netns(self.netns)
        store = open_store(self.db_url)
        try:
            for project in PROJECTS:
                for role in Role:
                    self.tokens[(project, role.value)] = create_token(store, project, role).secret
            self.tokens[("admin", "admin")] = create_token(store, "admin", Role.ADMIN).secret
        finally:
            store.close()
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        argv = [sys.executable, "-m", "guestwall", "--db", self.db_url, "--netns", self.netns, "api"]
        argv += ["--listen", f"127.0.0.1:{self.port}", "--log-level", "warning"]
        self.process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"guestwall api exited: {err}")
            try:
                httpx.get(f"{self.url}/", timeout=1)
                return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("guestwall api did not start within 120 s")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, 10)
        remove_netns(self.netns)

    def env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(ROOT / "src")}

    def cli(self) -> list[str]:
        """``guestwall`` on this server's store and namespace."""
        return [sys.executable, "-m", "guestwall", "--db", self.db_url, "--netns", self.netns]

    def token(self, project: str, role: str) -> str:
        return self.tokens[(project, role)]

    def client(self, project: str = "p1", role: str = "member") -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"X-Auth-Token": self.token(project, role)}, timeout=60
        )

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table (tokens aside), to compare before and after a refused request."""
        with sqlite3.connect(self.db) as db:
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            return {
                t: sorted(db.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr)
                for t in tables
                if t != "api_tokens"
            }
