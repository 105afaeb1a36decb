"""Dashboard tests: page logic over HTTP with a recording backend (fast), and the real thing: the API
served by uvicorn, enforcing in a namespace lab, driven by a headless Chromium (tests/ui/harness.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient
from uisite import Site, make_site

from guestwall.cloud.facade import Cloud
from guestwall.dataplane.backend import RecordingBackend
from guestwall.lab import Lab, lab_down
from guestwall.model.cloud import Port
from guestwall.store import open_store
from netns_fixtures import build_lab


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    store = open_store(f"sqlite:///{tmp_path}/guestwall.db")
    yield make_site(store, RecordingBackend(), None)
    store.close()


class Browserless:
    """An HTTP client logged in with a token, as a browser would be (cookie), that can post forms with the
    page's CSRF value."""

    def __init__(self, app: FastAPI, token: str | None) -> None:
        """``token``: a secret (not a label)."""
        self.client = TestClient(app, base_url="http://testserver", follow_redirects=False)
        if token is not None:
            self.client.cookies.set("gw_session", token, path="/ui")
        self.token = token

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, **kw)

    def post(self, path: str, data: dict[str, str], csrf: bool = True, **kw: Any) -> Any:
        from guestwall.api.ui.session import csrf_value

        if csrf and self.token is not None:
            data = {"csrf": csrf_value(self.token), **data}
        return self.client.post(path, data=data, **kw)


@pytest.fixture
def as_user(site: Site) -> Any:
    def make(label: str | None) -> Browserless:
        return Browserless(site.app, None if label is None else site.tokens[label])

    return make


# ---- the real site: a lab, the API's pages enforcing in it, ports for two of its guests -----------------


@dataclass
class LabSite:
    lab: Lab
    site: Site
    ports: dict[str, Port]


@pytest.fixture(scope="module")
def lab_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabSite]:
    """alice (project acme, group base) and bob (project other, group out) as cloud ports in a 2-guest lab;
    bob's group lets it send anything, alice's accepts only its own members."""
    from guestwall.cloud.conntrack import ConntrackTool
    from guestwall.dataplane.backend import open_backend

    lab = build_lab(2, "u")
    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('ui')}/guestwall.db")
    try:
        site = make_site(store, open_backend(lab.host_netns), lab.host_netns)
        cloud = Cloud(store, site.backend, ConntrackTool(lab.host_netns))
        base = cloud.create_group("base", "acme").value
        out = cloud.create_group("out", "other").value
        ports = {}
        for guest, project, group in (("alice", "acme", base.id), ("bob", "other", out.id)):
            g = lab[guest]
            ips = (ip_address(g.ipv4), ip_address(g.ipv6))
            port = Port("", g.portdev, g.mac, project, guest, ips, security_groups=(group,))
            ports[guest] = cloud.create_port(port).value
        yield LabSite(lab, site, ports)
    finally:
        store.close()
        lab_down(lab.prefix)
