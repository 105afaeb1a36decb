"""The agent's tests: pure ones (configuration, frame observation, interim programs) and namespace ones
that run ``guestwall agent`` as a subprocess in a lab's host namespace (see agentkit.py)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from agentkit import Host, PgStore

from guestwall.lab import Lab
from netns_fixtures import lab_factory  # noqa: F401


@pytest.fixture
def make_host(lab_factory: Callable[..., Lab], tmp_path: Path) -> Iterator[Callable[..., Host]]:  # noqa: F811
    """``make(guests=5, config="toml text", **LabSpec fields) -> Host``; agents are stopped before the labs
    go down."""
    hosts: list[Host] = []
    schemas: list[PgStore] = []

    def make(guests: int = 5, config: str = "", store: str = "sqlite", **spec: Any) -> Host:
        url = None
        if store == "postgresql":
            base = os.environ.get("GUESTWALL_TEST_PG")
            if not base:
                pytest.skip("GUESTWALL_TEST_PG is not set")
            schemas.append(PgStore(base))
            url = schemas[-1].url
        lab = lab_factory(guests=guests, **spec)
        workdir = tmp_path / f"host{len(hosts)}"
        workdir.mkdir()
        host = Host(lab, workdir, config, url)
        hosts.append(host)
        return host

    try:
        yield make
    finally:
        for host in hosts:
            host.stop_agents()
        for schema in schemas:
            schema.drop()
