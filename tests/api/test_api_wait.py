"""``X-Guestwall-Wait`` on API writes (no kernel: a recording backend; SQLite): the answer waits for the
hosts concerned, a late host turns it into 504 naming the host (the change stays stored), a host that is
down is named as not waited for."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from fastapi.testclient import TestClient

from guestwall.api.app import ApiState, Settings, create_app
from guestwall.cloud.facade import Cloud
from guestwall.dataplane.backend import RecordingBackend
from guestwall.services.tokens import Role, create_token
from guestwall.store import open_store
from guestwall.store.hosts import Report, report
from guestwall.store.sqlstore import SqlStore


def _client(tmp_path: Path) -> tuple[TestClient, SqlStore, str]:
    url = f"sqlite:///{tmp_path}/gw.db"
    store = open_store(url, "api")
    assert isinstance(store, SqlStore)
    backend = RecordingBackend()
    state = ApiState(Settings(url), store, backend, Cloud(store, backend))
    token = create_token(store, "admin", Role.ADMIN).secret
    return TestClient(create_app(Settings(url), state)), store, token


def _block(client: TestClient, token: str, cidr: str, wait: str) -> object:
    return client.post(
        "/guestwall/v1/provider-blocks",
        json={"provider_block": {"cidr": cidr}},
        headers={"X-Auth-Token": token, "X-Guestwall-Wait": wait},
    )


def test_a_write_waits_for_the_hosts_concerned(tmp_path: Path) -> None:
    client, store, token = _client(tmp_path)
    report(store, "h1", Report(applied_revision=store.generation()))
    report(store, "h2", Report(applied_revision=store.generation()))

    late = _block(client, token, "192.0.2.1/32", "0.2")
    assert late.status_code == 504  # type: ignore[attr-defined]
    assert "h1, h2" in late.json()["NeutronError"]["message"]  # type: ignore[attr-defined]
    with store.read() as reader:
        assert any(s.name == "gw-provider-any" for s in reader.address_sets())  # stored all the same

    def agents() -> None:  # both hosts apply what is committed, a little later
        time.sleep(0.3)
        for host in ("h1", "h2"):
            report(store, host, Report(applied_revision=store.generation()))

    helper = threading.Thread(target=agents)
    helper.start()
    done = _block(client, token, "192.0.2.2/32", "10")
    helper.join()
    assert done.status_code == 201  # type: ignore[attr-defined]
    assert int(done.headers["X-Guestwall-Revision"]) == store.generation()  # type: ignore[attr-defined]

    bad = _block(client, token, "192.0.2.3/32", "soon")
    assert bad.status_code == 400  # type: ignore[attr-defined]
    store.close()
