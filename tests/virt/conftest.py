"""libvirt integration tests: a private libvirt daemon in a lab's host namespace (see libvirtkit.py), and
pure tests on a temporary store."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from guestwall.store import Store, open_store
from netns_fixtures import lab_factory  # noqa: F401


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path}/guestwall.db")
    yield opened
    opened.close()
