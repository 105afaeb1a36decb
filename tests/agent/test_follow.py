"""The agent's reconciler following the change log (no kernel: a recording backend; SQLite): changes of
other hosts are skipped without touching the kernel, notifications let it move on without reading, a log
pruned past its revision makes it rebuild."""

from __future__ import annotations

from pathlib import Path

from guestwall.agent.reconcile import FOLLOWED_NOTHING, FOLLOWED_SKIPPED, ConvergeResult, Reconciler
from guestwall.config import HostConfig
from guestwall.dataplane.backend import RecordingBackend
from guestwall.store import open_store
from guestwall.store.hosts import Report, prune_log, report
from guestwall.store.records import notify_payload, parse_payload
from guestwall.store.sqlstore import SqlStore

XML = (
    "<filterbinding><owner><name>g</name><uuid>00000000-0000-4000-8000-000000000001</uuid></owner>"
    "<portdev name='{dev}'/><mac address='52:54:00:00:00:01'/>"
    "<filterref filter='allow-arp'/></filterbinding>"
)


def _bind(store: SqlStore, dev: str) -> int:
    with store.write() as w:
        w.add_binding(dev, "allow-arp", XML.format(dev=dev))
    assert store.last_revision is not None
    return store.last_revision


def _open(url: str, host: str) -> SqlStore:
    store = open_store(url, host)
    assert isinstance(store, SqlStore)
    return store


def test_follow_skips_other_hosts_and_rebuilds_for_its_own(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/gw.db"
    h1, h2 = _open(url, "h1"), _open(url, "h2")
    backend = RecordingBackend()
    agent = Reconciler(h1, backend, HostConfig(), None)
    agent.converge()
    assert agent.follow() == FOLLOWED_NOTHING
    before = len(backend.transactions)

    revision = _bind(h2, "vnet0")
    assert agent.follow() == FOLLOWED_SKIPPED
    assert agent.generation == revision and len(backend.transactions) == before

    revision = _bind(h1, "vnet0")
    outcome = agent.follow()
    assert isinstance(outcome, ConvergeResult) and outcome.rebuilt
    assert agent.generation == revision
    assert agent.desired is not None and "vnet0" in agent.desired.programs
    h1.close()
    h2.close()


def test_notifications_move_on_without_reading_unless_they_concern_us(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/gw.db"
    h1 = _open(url, "h1")
    agent = Reconciler(h1, RecordingBackend(), HostConfig(), None)
    agent.converge()
    start = agent.generation
    assert start is not None
    assert parse_payload(notify_payload(7, ["h2", "h3", "h2"])) == (7, frozenset({"h2", "h3"}))
    assert parse_payload(notify_payload(7, ["h2", None])) == (7, None)
    assert parse_payload("junk") is None

    assert agent.skip_notified([notify_payload(start + 1, ["h2"]), notify_payload(start + 2, [])])
    assert agent.generation == start + 2
    assert not agent.skip_notified([notify_payload(start + 4, ["h2"])])  # a gap: read the log
    assert not agent.skip_notified([notify_payload(start + 3, [None])])  # every host's change
    assert not agent.skip_notified([notify_payload(start + 3, ["h1"])])  # ours
    assert agent.generation == start + 2
    h1.close()


def test_a_log_pruned_past_the_agent_means_a_snapshot(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/gw.db"
    h1, h2 = _open(url, "h1"), _open(url, "h2")
    agent = Reconciler(h1, RecordingBackend(), HostConfig(), None)
    agent.converge()
    _bind(h2, "vnet0")
    head = _bind(h2, "vnet1")
    report(h2, "h2", Report(applied_revision=head))  # the only recent host: the log goes up to head
    assert prune_log(h2) > 0
    with h1.read() as reader:
        assert agent.concerned(reader, agent.generation)  # cannot tell what it missed: rebuild
    outcome = agent.follow()
    assert isinstance(outcome, ConvergeResult) and outcome.rebuilt
    h1.close()
    h2.close()
