"""Several processes writing one store at once: no update is lost, the first open migrates and seeds once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from uuid import uuid4

from guestwall.store import open_store

PROCESSES = 4
INCREMENTS = 15

# Each child imports everything, then waits for the start file so that all of them run at the same time.
CHILD = """
import os, sys, time
from uuid import UUID
from guestwall.store import open_store
url, start, job = sys.argv[1], sys.argv[2], sys.argv[3]
while not os.path.exists(start):
    time.sleep(0.005)
store = open_store(url)
if job == "count":
    for _ in range({increments}):
        with store.write() as writer:  # read-modify-write: lost without the store-wide write lock
            record = writer.filter_by_name("counter")
            time.sleep(0.001)
            writer.put_filter(record.uuid, "counter", str(int(record.xml) + 1))
store.close()
"""


def run_children(url: str, job: str, tmp_path: Path) -> None:
    start = tmp_path / f"start-{uuid4().hex}"
    code = CHILD.format(increments=INCREMENTS)
    children = [
        subprocess.Popen([sys.executable, "-c", code, url, str(start), job], env=os.environ.copy())
        for _ in range(PROCESSES)
    ]
    time.sleep(0.5)  # let them import
    start.touch()
    assert [child.wait(timeout=300) for child in children] == [0] * PROCESSES


def test_concurrent_writers_lose_no_update(store_url: str, tmp_path: Path) -> None:
    store = open_store(store_url)
    with store.write() as writer:
        writer.put_filter(uuid4(), "counter", "0")
    start_generation = store.generation()
    run_children(store_url, "count", tmp_path)
    with store.read() as reader:
        counter = reader.filter_by_name("counter")
        assert counter is not None
        assert int(counter.xml) == PROCESSES * INCREMENTS
        assert reader.generation() == start_generation + PROCESSES * INCREMENTS
    store.close()


def test_concurrent_first_opens_migrate_and_seed_once(store_url: str, tmp_path: Path) -> None:
    run_children(store_url, "open", tmp_path)
    store = open_store(store_url)
    with store.read() as reader:
        assert len(reader.filters()) == 24
        assert reader.generation() == 1
    store.close()
