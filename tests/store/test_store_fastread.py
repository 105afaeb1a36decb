"""The sqlite3 fast read path returns what the SQLAlchemy store returns, and is used only when safe."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from guestwall.errors import StoreError
from guestwall.store import open_reader, open_store
from guestwall.store.fastread import FastStore, open_fast, sqlite_path
from guestwall.store.sqlstore import SqlStore

BINDING_XML = (
    "<filterbinding><owner><name>vm</name><uuid>00000000-0000-4000-8000-000000000001</uuid></owner>"
    "<portdev name='vnet0'/><mac address='52:54:00:00:00:01'/>"
    "<filterref filter='clean-traffic'><parameter name='IP' value='10.0.0.1'/></filterref></filterbinding>"
)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/guestwall.db"


def test_both_paths_read_the_same(url: str) -> None:
    store = open_store(url)
    with store.write() as writer:
        writer.add_binding("vnet0", "clean-traffic", BINDING_XML)
        writer.add_binding("vnet1", "allow-arp", BINDING_XML.replace("clean-traffic", "allow-arp"))
        writer.learn_address("vnet0", ip_address("10.1.2.3"), "dhcp", datetime.now(UTC) + timedelta(hours=1))
        writer.learn_address("vnet1", ip_address("2001:db8::7"), "arp")
    fast = open_fast(url)
    assert fast is not None
    with store.read() as slow_reader, fast.read() as fast_reader:
        assert fast_reader.generation() == slow_reader.generation()
        assert fast_reader.filters() == slow_reader.filters()
        assert len(fast_reader.filters()) == 24
        some = slow_reader.filters()[5]
        assert fast_reader.filter_by_name(some.name) == some
        assert fast_reader.filter_by_uuid(some.uuid) == some
        assert fast_reader.filter_by_name("nope") is None
        assert fast_reader.bindings() == slow_reader.bindings()
        assert fast_reader.binding("vnet1") == slow_reader.binding("vnet1")
        assert fast_reader.binding("vnet9") is None
        assert fast_reader.learned_addresses() == slow_reader.learned_addresses()
        assert fast_reader.learned_addresses("vnet1") == slow_reader.learned_addresses("vnet1")
    fast.close()


def test_open_reader_prefers_the_fast_path(url: str) -> None:
    open_store(url).close()
    reader = open_reader(url)
    assert isinstance(reader, FastStore)
    reader.close()


def test_fast_path_declines_a_missing_file_and_only_writers_create_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/new/guestwall.db"
    assert open_fast(url) is None
    with pytest.raises(StoreError, match="there is no guestwall store at"):
        open_reader(url)
    assert not (tmp_path / "new").exists()
    store = open_store(url)
    assert isinstance(store, SqlStore)
    with store.read() as r:
        assert len(r.filters()) == 24
    store.close()
    assert isinstance(open_reader(url), FastStore)


def test_fast_path_declines_other_revisions_and_unseeded_stores(url: str) -> None:
    open_store(url).close()
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE store_state SET builtins_seeded_at = NULL"))
    assert open_fast(url) is None
    with engine.begin() as connection:
        connection.execute(text("UPDATE store_state SET builtins_seeded_at = '2025-01-01 00:00:00.000000'"))
        connection.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    assert open_fast(url) is None
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))
    assert open_fast(url) is None


def test_fast_path_declines_a_file_that_is_not_a_store(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_text("not sqlite")
    assert open_fast(f"sqlite:///{junk}") is None


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:////var/lib/guestwall/guestwall.db", "/var/lib/guestwall/guestwall.db"),
        ("sqlite:///relative.db", "relative.db"),
        ("sqlite+pysqlite:////x/y.db", "/x/y.db"),
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
        ("sqlite:////x/y.db?timeout=5", None),
        ("sqlite:///file:x.db?mode=ro&uri=true", None),
        ("postgresql://u@h/db", None),
    ],
)
def test_sqlite_path(url: str, path: str | None) -> None:
    assert sqlite_path(url) == path


def test_reading_does_not_import_sqlalchemy(url: str) -> None:
    open_store(url).close()
    code = (
        "import sys\n"
        "from guestwall.store import open_reader\n"
        "from guestwall.services.filters import find_filter, list_filters\n"
        f"store = open_reader({url!r})\n"
        "assert len(list_filters(store)) == 24\n"
        "assert find_filter(store, 'clean-traffic').name == 'clean-traffic'\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'alembic', 'lxml'))\n"
        "print(heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ.copy()
    )
    assert result.stdout == "[]\n"


def test_read_errors_are_store_errors(url: str) -> None:
    from guestwall.errors import StoreError

    open_store(url).close()
    fast = open_fast(url)
    assert fast is not None
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE learned_addresses"))
    with pytest.raises(StoreError, match="no such table: learned_addresses"), fast.read() as reader:
        reader.learned_addresses()
