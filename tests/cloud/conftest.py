"""Cloud-layer tests: pure translation/validation/service tests, and namespace tests with real traffic (the
shared lab fixtures of tests/netns_fixtures.py; every lab is removed however a test ends)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from guestwall.dataplane.backend import RecordingBackend
from guestwall.store import Store, open_store
from netns_fixtures import lab, lab_module  # noqa: F401


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path}/guestwall.db")
    yield opened
    opened.close()


@pytest.fixture
def recording() -> RecordingBackend:
    return RecordingBackend()
