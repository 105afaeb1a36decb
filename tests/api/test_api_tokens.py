"""Tokens: random, shown once, stored as a digest, bound to a project and a role; revoked ones stop working;
the CLI's ``token`` and ``api`` commands; and the API benchmark still runs (its shape, never its speed)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from guestwall.cli.app import cli
from guestwall.services.tokens import Role, authenticate, create_token, digest, list_tokens, revoke_token
from guestwall.store import Store, open_store
from netns_fixtures import netns_test


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(f"sqlite:///{tmp_path}/gw.db")


def test_tokens_are_stored_hashed_and_revocable(store: Store, tmp_path: Path) -> None:
    made = create_token(store, "p1", Role.READER, "ci")
    other = create_token(store, "p1", Role.READER)
    assert made.secret.startswith("gw_") and len(made.secret) > 40 and made.secret != other.secret
    with sqlite3.connect(tmp_path / "gw.db") as db:
        rows = db.execute("SELECT digest, project, role FROM api_tokens").fetchall()
    assert (digest(made.secret), "p1", "reader") in rows
    assert not any(made.secret in str(row) for row in rows)
    found = authenticate(store, made.secret)
    assert found is not None and (found.project, found.role) == ("p1", Role.READER)
    assert authenticate(store, made.secret + "x") is None and authenticate(store, "nope") is None
    revoke_token(store, made.info.id[:8])
    assert authenticate(store, made.secret) is None
    assert [t.id for t in list_tokens(store)] == [other.info.id]


def test_token_commands(tmp_path: Path) -> None:
    runner = CliRunner()
    db = ["--db", f"sqlite:///{tmp_path}/gw.db"]
    made = runner.invoke(cli, [*db, "token", "create", "--project", "p9", "--role", "admin"])
    assert made.exit_code == 0 and made.stdout.startswith("gw_")
    listed = runner.invoke(cli, [*db, "token", "list"])
    assert "p9" in listed.stdout and "admin" in listed.stdout and made.stdout.strip() not in listed.stdout
    bad = runner.invoke(cli, [*db, "token", "create", "--project", "p9", "--role", "owner"])
    assert bad.exit_code == 1 and "invalid role 'owner'" in bad.stderr
    token_id = listed.stdout.split("\n")[2].split()[0]
    assert runner.invoke(cli, [*db, "token", "revoke", token_id]).exit_code == 0
    assert runner.invoke(cli, [*db, "token", "revoke", token_id]).exit_code == 1
    listen = runner.invoke(cli, [*db, "api", "--listen", "nowhere"])
    assert listen.exit_code == 2 and "HOST:PORT" in listen.output


@netns_test
def test_api_benchmark_runs() -> None:
    from bench.api import measure, report

    results = measure(True, log=lambda _: None, sizes=(5, 5, 3, 10))
    for name in ("rule create", "member change"):
        for side in ("in_process", "api"):
            assert 0 < results[name][side]["p50_ms"] <= results[name][side]["p99_ms"]
    assert results["show group req/s"] > 0
    assert "API/in-process p50" in report(results)
