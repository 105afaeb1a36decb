"""CLI start-up: wall time of ``guestwall nwfilter-list`` against ``python -c pass`` (same interpreter), and
the modules whose import costs most (``python -X importtime``), to say where the time goes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import workload
from bench.programming import guestwall_argv
from bench.timing import median


def _wall(argv: list[str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {proc.stderr.strip()[:300]}")
    return elapsed


def import_profile(argv: list[str], top: int = 8) -> list[dict[str, Any]]:
    """The ``top`` modules by cumulative import time (microseconds) when running ``argv`` (a python -m)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    rows: list[dict[str, Any]] = []
    for line in proc.stderr.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if not line.startswith("import time:") or len(fields) != 3 or not fields[0].strip().isdigit():
            continue
        name = fields[2]
        level = (len(name) - len(name.lstrip()) - 1) // 2  # one space, then two per nesting level
        if level <= 2:
            rows.append({"module": name.strip(), "level": level, "cumulative_us": int(fields[1])})
    rows.sort(key=lambda r: -r["cumulative_us"])
    return rows[:top]


def measure_startup(runs: int, work: Path) -> dict[str, Any]:
    from guestwall.services.filters import define_filter
    from guestwall.store import open_store

    url = f"sqlite:///{work}/startup.db"
    store = open_store(url)
    define_filter(store, workload.filter_xml(0))
    store.close()
    listing = [*guestwall_argv(), "--db", url, "nwfilter-list"]
    _wall(listing)  # warm the page cache once
    python_s = median([_wall([sys.executable, "-c", "pass"]) for _ in range(runs)])
    list_s = median([_wall(listing) for _ in range(runs)])
    return {
        "runs": runs,
        "python_pass_s": python_s,
        "nwfilter_list_s": list_s,
        "ratio_to_python": list_s / python_s,
        "over_python_s": list_s - python_s,
        "import_top": import_profile(["-m", "guestwall", "--db", url, "nwfilter-list"]),
    }
