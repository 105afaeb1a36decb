"""Many hosts on one PostgreSQL (a private server: one test restarts it): each host a lab with its own
``guestwall agent --host hN``; writes made from no host's kernel. Real processes, real frames."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from ipaddress import ip_network
from pathlib import Path

import pytest
from agentkit import Host, wait_until

from guestwall.lab import Lab
from guestwall.lab import pgserver as pgcluster
from guestwall.store import open_store
from multihost import DENY_FILTER, GUEST_FILTER, Cluster, host_names, passes
from netns_fixtures import needs_netns

pytestmark = [
    *needs_netns,
    pytest.mark.skipif(bool(pgcluster.available()), reason=str(pgcluster.available())),
]

CONVERGE = 20.0  # seconds a test waits at most for a convergence (a failure, not a measure)


@pytest.fixture(scope="module")
def pg() -> Iterator[pgcluster.PgCluster]:
    cluster = pgcluster.PgCluster()
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def cluster(
    pg: pgcluster.PgCluster, lab_factory: Callable[..., Lab], tmp_path: Path
) -> Iterator[Callable[..., Cluster]]:
    made: list[Cluster] = []

    def make(count: int = 3, guests: int = 3) -> Cluster:
        url = pg.new_database()
        open_store(url).close()  # as an installation does: agents do not create a missing store
        (tmp_path / "empty.toml").write_text("")
        hosts = []
        for index in range(count):
            workdir = tmp_path / f"host{index}"
            workdir.mkdir()
            hosts.append(Host(lab_factory(guests=guests), workdir, "", url))
        made.append(Cluster(url, tmp_path, hosts, host_names(count)))
        return made[-1]

    try:
        yield make
    finally:
        for c in made:
            for host in c.hosts:
                host.stop_agents()


def _guests_with_provider_filter(c: Cluster) -> None:
    c.write("provider", "block", "192.0.2.1/32")  # the provider filter exists from the first block
    c.write("nwfilter-define", c.file("guest.xml", GUEST_FILTER))
    for index in range(len(c.hosts)):
        c.bind(index, ["alice", "bob"], "mh-guest")


def test_provider_block_written_once_is_enforced_on_every_host(cluster: Callable[..., Cluster]) -> None:
    c = cluster(3)
    c.start_agents()
    _guests_with_provider_filter(c)
    c.write("--wait", "--wait-timeout", str(CONVERGE), "provider", "block", "192.0.2.2/32")
    for host in c.hosts:
        assert passes(host.lab, "alice", "bob")
        assert passes(host.lab, "carol", "bob")

    alice = c.hosts[0].lab["alice"].ipv4  # the same address in every lab
    c.write("--wait", "--wait-timeout", str(CONVERGE), "provider", "block", f"{alice}/32")
    # --wait returned: every host enforces it now (checked at once, not polled)
    for host in c.hosts:
        assert not passes(host.lab, "alice", "bob")
        assert passes(host.lab, "carol", "bob")
    _, out, _ = c.write("host", "list", "--format", "json")
    import json

    rows = {row["host"]: row for row in json.loads(out)}
    assert set(rows) == set(c.names)
    assert all(
        row["state"] == "up" and row["lag"] == 0 and row["last_error"] is None for row in rows.values()
    )


def test_agent_killed_during_100_changes_converges_with_nothing_lost(cluster: Callable[..., Cluster]) -> None:
    from guestwall.cloud.facade import Cloud
    from guestwall.dataplane.backend import NoKernel
    from guestwall.store import open_store

    c = cluster(2)
    c.start_agents()
    _guests_with_provider_filter(c)
    store = open_store(c.url, "writer")
    cloud = Cloud(store, NoKernel())
    victim = c.hosts[0].agents[0]
    try:
        for k in range(100):
            cloud.block(ip_network(f"198.51.100.{k + 1}/32"))
            if k == 30:
                victim.proc.send_signal(signal.SIGKILL)
                victim.proc.wait()
            if k == 70:
                c.hosts[0].start_agent("--host", c.names[0], wait=False)
        alice = c.hosts[0].lab["alice"].ipv4
        cloud.block(ip_network(f"{alice}/32"))
        revision = store.last_revision
    finally:
        store.close()
    c.hosts[0].agents[-1].wait_ready()
    c.write("--wait", "--wait-timeout", str(CONVERGE), "provider", "block", "192.0.2.3/32")
    for index, host in enumerate(c.hosts):
        assert c.in_sync(index), f"{c.names[index]} differs from the store"
        assert not passes(host.lab, "alice", "bob")
        assert passes(host.lab, "carol", "bob")
    assert revision is not None


def test_postgresql_restarted_under_running_agents(
    cluster: Callable[..., Cluster], pg: pgcluster.PgCluster
) -> None:
    c = cluster(3)
    c.start_agents()
    _guests_with_provider_filter(c)
    c.write("--wait", "--wait-timeout", str(CONVERGE), "provider", "block", "192.0.2.2/32")
    pg.restart()
    alice = c.hosts[0].lab["alice"].ipv4
    # the first write after the restart may meet a dead pooled connection: the next one works
    wait_until(
        lambda: c.write("provider", "block", f"{alice}/32", check=False)[0] == 0, CONVERGE, 0.2, "a write"
    )
    c.write("--wait", "--wait-timeout", str(CONVERGE), "provider", "block", "192.0.2.4/32")
    for index, host in enumerate(c.hosts):
        assert not passes(host.lab, "alice", "bob")
        assert c.in_sync(index)
    for agent in (h.agents[0] for h in c.hosts):
        assert agent.proc.poll() is None  # they reconnected, none died
        agent.wait_log("listening for store changes again", CONVERGE)


def test_writers_committing_out_of_order_lose_nothing(cluster: Callable[..., Cluster]) -> None:
    """A writer that started first commits last: with a sequence, a reader of "revision > last" could
    pass its revision before it commits and skip it forever. Revisions here are taken in commit order."""
    from agentkit import binding_xml

    from guestwall.nwfilter import format_binding, parse_binding
    from guestwall.store import open_store

    c = cluster(2)
    c.start_agents()
    # applied everywhere first: the two bindings below are then changes of one host each
    c.write("--wait", "--wait-timeout", str(CONVERGE), "nwfilter-define", c.file("deny.xml", DENY_FILTER))
    first_in = threading.Event()
    second_waiting = threading.Event()
    errors: list[BaseException] = []

    def writer(index: int, guest: str, hold: bool) -> None:
        store = open_store(c.url, c.names[index])
        try:
            xml = format_binding(parse_binding(binding_xml(c.hosts[index].lab[guest], "mh-deny")))
            if hold:
                with store.write() as w:
                    w.add_binding(c.hosts[index].lab[guest].portdev, "mh-deny", xml)
                    first_in.set()
                    second_waiting.wait(5)
            else:
                first_in.wait(5)
                second_waiting.set()  # about to wait for the first writer's lock
                with store.write() as w:
                    w.add_binding(c.hosts[index].lab[guest].portdev, "mh-deny", xml)
        except BaseException as e:  # reported by the test thread
            errors.append(e)
        finally:
            store.close()

    threads = [
        threading.Thread(target=writer, args=(0, "bob", True)),
        threading.Thread(target=writer, args=(1, "carol", False)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    from guestwall.store.hosts import wait_applied
    from guestwall.store.sqlstore import SqlStore

    store = open_store(c.url, "writer")
    try:
        assert isinstance(store, SqlStore)
        waited = wait_applied(store, store.generation(), CONVERGE)
    finally:
        store.close()
    assert not waited.late and not waited.down
    assert not passes(c.hosts[0].lab, "alice", "bob")
    assert passes(c.hosts[0].lab, "alice", "carol")
    assert not passes(c.hosts[1].lab, "alice", "carol")
    assert passes(c.hosts[1].lab, "alice", "bob")


def test_port_moved_to_another_host(cluster: Callable[..., Cluster]) -> None:
    c = cluster(2)
    c.start_agents()
    c.write("nwfilter-define", c.file("deny.xml", DENY_FILTER))
    c.bind(0, ["bob"], "mh-deny")
    assert not passes(c.hosts[0].lab, "alice", "bob")
    assert passes(c.hosts[1].lab, "alice", "bob")

    c.write("--wait", "--wait-timeout", str(CONVERGE), "host", "move", "vnet1", c.names[1], host=c.names[0])
    assert passes(c.hosts[0].lab, "alice", "bob")
    assert not passes(c.hosts[1].lab, "alice", "bob")
    _, listed, _ = c.write("nwfilter-binding-list", host=c.names[1])
    assert "vnet1" in listed
    _, listed, _ = c.write("nwfilter-binding-list", host=c.names[0])
    assert "vnet1" not in listed
