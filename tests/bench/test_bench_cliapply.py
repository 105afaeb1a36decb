"""``python -m bench.cliapply`` runs end to end at a small N (own process, agent, apply after a reboot) and
reports every figure with its ratio to the in-process first apply. Shape only, never speed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces"),
]


def test_first_apply_through_the_cli_is_measured_every_way(tmp_path: Path) -> None:
    out = tmp_path / "cliapply.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.cliapply", "--n", "20", "--reps", "1", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(out.read_text())
    assert results["n"] == 20
    for mode in ("in_process", "process", "agent", "apply"):
        row = results[mode]
        assert len(row["runs"]) == 1 and row["median_s"] > 0, (mode, row)
        assert row["ratio_to_in_process"] == pytest.approx(row["median_s"] / results["in_process"]["median_s"])
    assert "by the agent" in proc.stdout
