"""Cloud ports bind on their host (``binding:host_id``): created, moved and resynchronised from any host,
each binding lands where the port lives, and this host's kernel gets only its own (no kernel: a recording
backend; SQLite)."""

from __future__ import annotations

from pathlib import Path

from guestwall.cloud.facade import Cloud
from guestwall.cloud.ports import PortChanges
from guestwall.dataplane.backend import RecordingBackend
from guestwall.model.cloud import Port
from guestwall.store import open_store
from guestwall.store.records import Store


def _hosts_of(store_url: str, device: str) -> list[str]:
    found = []
    for host in ("h1", "h2", "h3"):
        store = open_store(store_url, host)
        with store.read() as reader:
            if reader.binding(device) is not None:
                found.append(host)
        store.close()
    return found


def _cloud(url: str, host: str) -> tuple[Store, Cloud, RecordingBackend]:
    store = open_store(url, host)
    backend = RecordingBackend()
    return store, Cloud(store, backend), backend


def test_ports_bind_on_their_host_and_move_with_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/gw.db"
    store, cloud, backend = _cloud(url, "h1")
    try:
        cloud.create_port(Port("", "tap1", "52:54:00:00:00:01", "p", host="h2"))
        assert _hosts_of(url, "tap1") == ["h2"]
        assert not any("tap1" in t for t in backend.transactions)  # not this host's kernel
        cloud.create_port(Port("", "tap2", "52:54:00:00:00:02", "p"))  # no host: the writing host
        assert _hosts_of(url, "tap2") == ["h1"]
        assert any("tap2" in t for t in backend.transactions)

        cloud.update_port("tap1", PortChanges(host="h3"))
        assert _hosts_of(url, "tap1") == ["h3"]
        with store.read() as reader:
            assert reader.changes_after(0)[-1].host in {"h2", "h3"}
        cloud.update_port("tap1", PortChanges(host="h1"))
        assert _hosts_of(url, "tap1") == ["h1"]
        assert any("tap1" in t for t in backend.transactions)  # now ours
        cloud.delete_port("tap1")
        assert _hosts_of(url, "tap1") == []
    finally:
        store.close()


def test_resync_from_another_host_leaves_ports_where_they_are(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/gw.db"
    store, cloud, _ = _cloud(url, "h1")
    cloud.create_port(Port("", "tap1", "52:54:00:00:00:01", "p"))
    cloud.create_port(Port("", "tap2", "52:54:00:00:00:02", "p", host="h3"))
    store.close()
    other, cloud2, backend2 = _cloud(url, "h2")
    try:
        cloud2.resync()
        assert _hosts_of(url, "tap1") == ["h1"]
        assert _hosts_of(url, "tap2") == ["h3"]
        assert not any("tap1" in t or "tap2" in t for t in backend2.transactions)
    finally:
        other.close()
