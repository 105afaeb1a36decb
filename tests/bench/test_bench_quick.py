"""The benchmark itself must not rot: ``python -m bench --quick`` runs end to end (namespaces, CLI, data
path) and writes JSON whose figures are present and sane. It checks shape and ratios, never speed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces"),
    pytest.mark.skipif(shutil.which("iperf3") is None, reason="iperf3 is not installed"),
]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    pytest.importorskip("matplotlib")
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Targets of issue 5" in proc.stdout
    for png in (
        "bench-programming.png",
        "bench-kernel-size.png",
        "bench-datapath.png",
        "bench-transaction.png",
    ):
        assert (out / png).stat().st_size > 1000, png
    data: dict[str, Any] = json.loads((out / "results-quick.json").read_text())
    return data


def test_programming_figures_are_complete(results: dict[str, Any]) -> None:
    assert results["mode"] == "quick"
    sizes = [p["n"] for p in results["programming"]]
    assert sizes == sorted(sizes) and len(sizes) >= 2
    for entry in results["programming"]:
        for op in ("first_apply", "reapply", "edit", "add", "remove"):
            gw = entry["guestwall"][op]
            assert gw["total_s"] > 0
            assert 0 <= gw["compile_s"] <= gw["total_s"]
            assert 0 < gw["kernel_s"] <= gw["total_s"]
        for op in ("first_apply", "edit", "add", "remove"):
            assert entry["perport"][op]["kernel_s"] > 0
    with_cli = [p for p in results["programming"] if p["cli"]]
    assert with_cli and all(
        p["cli"][f"{op}_s"] > 0 for p in with_cli for op in ("first_apply", "add", "remove")
    )


def test_guestwall_invariants_hold(results: dict[str, Any]) -> None:
    """What does not depend on machine speed: empty re-apply, flat edit and rule count, per-port growth."""
    progs = results["programming"]
    assert all(p["guestwall"]["reapply"]["tx_commands"] == 0 for p in progs)
    assert all(p["guestwall"]["final_check_tx_commands"] == 0 for p in progs)  # no drift after add/remove
    assert len({p["guestwall"]["edit"]["tx_commands"] for p in progs}) == 1
    assert len({p["guestwall"]["kernel_size"]["rules"] for p in progs}) == 1
    small, large = progs[0], progs[-1]
    assert large["guestwall"]["kernel_size"]["elements"] > small["guestwall"]["kernel_size"]["elements"]
    assert large["perport"]["kernel_size"]["rules"] > small["perport"]["kernel_size"]["rules"]
    assert large["perport"]["edit"]["tx_commands"] > small["perport"]["edit"]["tx_commands"]
    for p in progs:
        assert p["guestwall"]["kernel_size"]["rules"] < p["perport"]["kernel_size"]["rules"]
        assert p["guestwall"]["fallbacks"] == 0


def test_ratios_are_sane(results: dict[str, Any]) -> None:
    for row in results["ratios"]["guestwall_vs_perport"].values():
        assert all(value > 0 for value in row.values())
        assert row["rules"] < 1
    startup = results["startup"]
    assert startup["nwfilter_list_s"] > 0 and startup["python_pass_s"] > 0  # no order: medians of noisy runs
    dp = results["datapath"]
    configs = {(r["config"], r["n"]) for r in dp["summary"]}
    assert {("none", 0), ("minimal-stateful", 0)} <= configs
    assert any(c == "guestwall" for c, _ in configs) and any(c == "per-port" for c, _ in configs)
    for entry in dp["ratios"]:
        for key in ("tcp_gbit_s_vs_none", "udp_pkt_s_vs_none", "tcp_gbit_s_vs_minimal-stateful"):
            assert entry[key] is not None and 0 < entry[key] < 5, (entry, key)


def test_every_target_is_evaluated(results: dict[str, Any]) -> None:
    names = [t["target"] for t in results["targets"]]
    assert len(names) == len(set(names)) >= 10
    for target in results["targets"]:
        assert target["met"] in (True, False, None)
        assert target["detail"]


def test_cloud_figures_are_present(results: dict[str, Any]) -> None:
    cloud = results["cloud"]
    assert (cloud["members"], cloud["blocks"]) == (100, 1000)
    for op in ("join", "leave", "create_member", "delete_member", "block", "unblock"):
        assert cloud[op]["ms"] > 0 and cloud[op]["commands"] > 0, op
    assert cloud["block"]["commands"] == cloud["unblock"]["commands"] == 1  # one set element
    assert cloud["kernel_size"]["elements"] >= cloud["blocks"]


def test_cli_write_figures_are_complete(results: dict[str, Any]) -> None:
    """Every writing command was timed in its own process and through the agent (bench/cliwrite.py)."""
    from bench.cliwrite import GOAL

    for size in results["cliwrite"]["sizes"]:
        for mode in ("process", "agent"):
            assert all(size[mode][op]["median_s"] > 0 for op in GOAL), (mode, size[mode])
