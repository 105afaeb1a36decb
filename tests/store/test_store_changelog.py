"""The change log and host scoping in the store (SQLite, and PostgreSQL when GUESTWALL_TEST_PG is set):
revisions in commit order with the changed objects and their hosts, per-host bindings, status rows,
pruning, and waiting for hosts."""

from __future__ import annotations

from datetime import timedelta
from ipaddress import ip_address
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from guestwall.errors import ConflictError
from guestwall.store import open_store
from guestwall.store.hosts import Report, host_statuses, prune_log, report, wait_applied
from guestwall.store.migrate import alembic_config
from guestwall.store.records import Change
from guestwall.store.sqlstore import SqlStore

XML = (
    "<filterbinding><owner><name>vm</name><uuid>00000000-0000-4000-8000-000000000001</uuid></owner>"
    "<portdev name='{dev}'/><mac address='52:54:00:00:00:01'/>"
    "<filterref filter='clean-traffic'><parameter name='IP' value='10.0.0.1'/></filterref></filterbinding>"
)


def _open(url: str, host: str) -> SqlStore:
    store = open_store(url, host)
    assert isinstance(store, SqlStore)
    return store


def test_a_write_logs_its_objects_at_its_revision(store_url: str) -> None:
    h1, h2 = _open(store_url, "h1"), _open(store_url, "h2")
    try:
        start = h1.generation()
        with h1.write() as w:
            w.add_binding("vnet0", "clean-traffic", XML.format(dev="vnet0"))
            w.learn_address("vnet0", ip_address("10.0.0.9"), "arp")
        with h2.write() as w:
            w.add_binding("vnet0", "clean-traffic", XML.format(dev="vnet0"))  # same device, other host
        with h1.write() as w:
            w.put_address_set("blocked", [])
        assert h1.last_revision == start + 3
        with h1.read() as r:
            changes = r.changes_after(start)
        assert changes == [
            Change(start + 1, "binding", "vnet0", "h1"),
            Change(start + 1, "address", "vnet0", "h1"),
            Change(start + 2, "binding", "vnet0", "h2"),
            Change(start + 3, "set", "blocked", None),
        ]
        assert [c.concerns("h2") for c in changes] == [False, False, True, True]
        report(h1, "h1", Report(applied_revision=start + 3))  # a status report is not a change
        assert h1.generation() == start + 3
    finally:
        h1.close()
        h2.close()


def test_bindings_belong_to_their_host(store_url: str) -> None:
    h1, h2 = _open(store_url, "h1"), _open(store_url, "h2")
    try:
        with h1.write() as w:
            w.add_binding("vnet0", "clean-traffic", XML.format(dev="vnet0"))
            w.add_binding("vnet1", "clean-traffic", XML.format(dev="vnet1"))
            w.learn_address("vnet1", ip_address("10.0.0.7"), "dhcp")
        with h2.write() as w:
            w.add_binding("vnet1", "clean-traffic", XML.format(dev="vnet1"))
        with h1.read() as r:
            assert [b.portdev for b in r.bindings()] == ["vnet0", "vnet1"]
            assert r.count_bindings("clean-traffic") == 2
        with h2.read() as r:
            assert [(b.portdev, b.host) for b in r.bindings()] == [("vnet1", "h2")]
            assert r.learned_addresses() == []
        with pytest.raises(ConflictError, match="vnet1' already exists on host 'h2'"), h1.write() as w:
            w.move_binding("vnet1", "h2")
        start = h1.generation()
        with h1.write() as w:
            assert w.move_binding("vnet0", "h2") == "h1"
        with h2.read() as r:
            assert [b.portdev for b in r.bindings()] == ["vnet0", "vnet1"]
            moved = {(c.entity, c.host) for c in r.changes_after(start)}
        assert moved == {("binding", "h1"), ("address", "h1"), ("binding", "h2"), ("address", "h2")}
        with h1.read() as r:
            assert [b.portdev for b in r.bindings()] == ["vnet1"]
            assert [str(a.ip) for a in r.learned_addresses()] == ["10.0.0.7"]
    finally:
        h1.close()
        h2.close()


def test_log_pruned_below_the_lowest_applied_revision_of_recent_hosts(store_url: str) -> None:
    store = _open(store_url, "h1")
    try:
        for name in ("a", "b", "c"):
            with store.write() as w:
                w.put_address_set(name, [])
        head = store.generation()
        report(store, "h1", Report(applied_revision=head))
        report(store, "h2", Report(applied_revision=head - 1))
        assert prune_log(store) > 0
        with store.read() as r:
            assert r.log_floor() == head - 1
            assert [c.revision for c in r.changes_after(0)] == [head]
        # a host not seen within the retention no longer holds the log back
        assert prune_log(store, retention=timedelta(seconds=-1)) == 0  # nobody recent: nothing to do
        revision, statuses = host_statuses(store)
        assert revision == head
        assert [(s.name, s.applied_revision) for s in statuses] == [("h1", head), ("h2", head - 1)]
    finally:
        store.close()


def test_wait_names_late_hosts_and_skips_down_ones(store_url: str) -> None:
    store = _open(store_url, "h1")
    try:
        report(store, "h1", Report(applied_revision=0))
        report(store, "h2", Report(applied_revision=0))
        with store.write() as w:
            w.add_binding("vnet0", "clean-traffic", XML.format(dev="vnet0"))
        revision = store.last_revision
        assert revision is not None
        waited = wait_applied(store, revision, timeout=0.1)
        assert waited.late == ("h1",) and waited.down == ()  # only h1 is concerned
        report(store, "h1", Report(applied_revision=revision))
        assert wait_applied(store, revision, timeout=0.1).applied == ("h1",)
        with store.write() as w:
            w.put_address_set("x", [])
        late = wait_applied(store, store.generation(), timeout=0.1)
        assert late.late == ("h1", "h2")  # a global change concerns every host
        assert wait_applied(store, store.generation(), timeout=0.1, down_after=-1).down == ("h1", "h2")
    finally:
        store.close()


def test_migration_0007_keeps_learned_addresses_on_this_host(tmp_path: Path) -> None:
    from alembic import command

    url = f"sqlite:///{tmp_path}/guestwall.db"
    store = open_store(url)
    with store.write() as w:
        w.add_binding("vnet0", "clean-traffic", XML.format(dev="vnet0"))
        w.learn_address("vnet0", ip_address("10.0.0.9"), "arp")
    store.close()
    engine = create_engine(url)
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0004")
        connection.execute(
            text("INSERT INTO learned_addresses VALUES ('vnet0', '10.0.0.8', 'arp', '2026-01-01', NULL)")
        )
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "head")
        floor, generation = connection.execute(text("SELECT log_floor, generation FROM store_state")).one()
        assert floor == generation
    engine.dispose()
    store = open_store(url)
    with store.read() as r:
        assert [b.portdev for b in r.bindings()] == ["vnet0"]
        assert [str(a.ip) for a in r.learned_addresses()] == ["10.0.0.8"]
    store.close()
