"""Shared fixtures. ``store_url`` runs a test on a temporary SQLite file and, when GUESTWALL_TEST_PG is set
(a PostgreSQL URL), on a fresh schema of that database as well."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from guestwall.store import Store, open_store

PG_URL = os.environ.get("GUESTWALL_TEST_PG")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/guestwall.db"
    else:
        if not PG_URL:
            pytest.skip("GUESTWALL_TEST_PG is not set")
        with PgSchema(PG_URL) as url:
            yield url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    yield opened
    opened.close()


class PgSchema:
    """A throw-away schema in the test database; the URL selects it through the search path."""

    def __init__(self, base_url: str) -> None:
        from guestwall.store.sqlstore import create_store_engine

        self.name = f"test_{uuid.uuid4().hex[:12]}"
        self.engine = create_store_engine(base_url)
        self.base_url = base_url

    def __enter__(self) -> str:
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        with self.engine.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {self.name}"))
        url = make_url(self.base_url).update_query_dict({"options": f"-csearch_path={self.name}"})
        return url.render_as_string(hide_password=False)

    def __exit__(self, *exc: object) -> None:
        from sqlalchemy import text

        with self.engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {self.name} CASCADE"))
        self.engine.dispose()
