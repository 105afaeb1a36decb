"""REST API tests against a real server (tests/api/apiserver.py): one per module, removed however the
tests end; its namespace is named like the labs', so a crashed run's is swept by the next one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from apiserver import ApiServer

from netns_fixtures import new_prefix, require_netns, sweep_stale_labs


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    require_netns()
    sweep_stale_labs()
    directory: Path = tmp_path_factory.mktemp("api")
    api = ApiServer(directory / "guestwall.db", f"{new_prefix('a')}-api")
    try:
        yield api.start()
    finally:
        api.stop()
