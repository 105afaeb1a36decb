"""``python -m bench [--quick] [--out DIR]``: run the benchmarks, print the tables, write JSON and PNG plots.

Needs root (network namespaces). Everything happens in namespaces this run creates and removes; the
kernel lock directory and the stores live in a temporary directory removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.config import FULL, QUICK, Config


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small N and short traffic runs (CI)")
    parser.add_argument(
        "--out", type=Path, default=Path("bench-results"), help="directory for JSON and plots"
    )
    parser.add_argument(
        "--sizes",
        type=lambda s: tuple(int(x) for x in s.split(",")),
        help="override N for programming time, e.g. 100,1000",
    )
    parser.add_argument(
        "--datapath-sizes",
        type=lambda s: tuple(int(x) for x in s.split(",") if x),
        help="override N loaded for the data path (subset of --sizes; empty: skip)",
    )
    parser.add_argument("--libvirt-ports", type=int, help="ports bound in the real libvirt (0: skip)")
    parser.add_argument("--traffic-seconds", type=int, help="length of one iperf3 run")
    parser.add_argument("--traffic-rounds", type=int, help="rounds over all data-path rulesets")
    parser.add_argument(
        "--skip",
        type=lambda s: set(s.split(",")),
        default=set(),
        help="comma-separated parts to leave out: startup, cli, cliwrite, datapath, libvirt, cloud",
    )
    parser.add_argument("--no-plots", action="store_true", help="write no PNG files")
    parser.add_argument(
        "--from-json",
        type=Path,
        metavar="JSON",
        help="measure nothing: print the tables and draw the plots of an earlier run",
    )
    return parser.parse_args(argv)


def _config(args: argparse.Namespace) -> Config:
    from dataclasses import replace

    cfg = QUICK if args.quick else FULL
    if args.sizes:
        cfg = replace(
            cfg,
            sizes=args.sizes,
            datapath_sizes=tuple(n for n in cfg.datapath_sizes if n in args.sizes),
            cli_sizes=tuple(n for n in cfg.cli_sizes if n in args.sizes) or (max(args.sizes),),
        )
    if args.datapath_sizes is not None:
        cfg = replace(cfg, datapath_sizes=args.datapath_sizes)
    if args.libvirt_ports is not None:
        cfg = replace(cfg, libvirt_ports=args.libvirt_ports)
    if args.traffic_seconds is not None:
        cfg = replace(cfg, traffic_seconds=args.traffic_seconds)
    if args.traffic_rounds is not None:
        cfg = replace(cfg, traffic_rounds=args.traffic_rounds)
    unknown_parts = args.skip - {"startup", "cli", "cliwrite", "datapath", "libvirt", "cloud"}
    if unknown_parts:
        raise SystemExit(f"unknown parts to skip: {', '.join(sorted(unknown_parts))}")
    if "datapath" in args.skip:
        cfg = replace(cfg, datapath_sizes=())
    if "libvirt" in args.skip:
        cfg = replace(cfg, libvirt_ports=0)
    if "cli" in args.skip:
        cfg = replace(cfg, cli_sizes=())
    if "startup" in args.skip:
        cfg = replace(cfg, startup_runs=0)
    if "cliwrite" in args.skip:
        cfg = replace(cfg, cliwrite=False)
    if "cloud" in args.skip:
        cfg = replace(cfg, cloud=False)
    unknown = set(cfg.datapath_sizes) - set(cfg.sizes)
    if unknown:
        raise SystemExit(f"data-path sizes {sorted(unknown)} are not among the programming sizes {cfg.sizes}")
    return cfg


def _host() -> dict[str, Any]:
    def version(argv: list[str]) -> str:
        try:
            return (
                subprocess.run(argv, capture_output=True, text=True, timeout=10)
                .stdout.strip()
                .splitlines()[0]
            )
        except (OSError, IndexError, subprocess.SubprocessError):
            return "unknown"

    root = Path(__file__).resolve().parent.parent
    commit = version(["git", "-C", str(root), "rev-parse", "--short", "HEAD"])
    status = subprocess.run(
        ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "--", "src"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    ).stdout
    return {
        "guestwall_commit": commit + (" + uncommitted changes in src/" if status.strip() else ""),
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "nft": version(["nft", "--version"]),
        "iperf3": version(["iperf3", "--version"]),
        "load_average": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    if args.from_json:
        from bench import plots, report

        results = json.loads(args.from_json.read_text())
        if not args.no_plots:
            args.out.mkdir(parents=True, exist_ok=True)
            plots.write_plots(results, args.out)
        report.print_tables(results)
        return 0
    cfg = _config(args)
    if os.geteuid() != 0:
        print("the benchmark needs root: it creates network namespaces", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="gwbench-"))
    # guestwall's kernel lock directory, read when guestwall.dataplane.apply is imported: ours, temporary
    os.environ["GUESTWALL_RUN_DIR"] = str(work / "run")
    from bench.netns import exit_on_sigterm

    exit_on_sigterm()
    try:
        results = run(cfg, work)
    finally:
        from bench.netns import sweep_stale

        shutil.rmtree(work, ignore_errors=True)
        sweep_stale()
    from bench import plots, report

    args.out.mkdir(parents=True, exist_ok=True)
    report.write_json(results, args.out / f"results-{cfg.mode}.json")
    if not args.no_plots:
        plots.write_plots(results, args.out)
    report.print_tables(results)
    if "cloud" in results:
        from bench.cloud import print_cloud

        print_cloud(results["cloud"])
    if "cliwrite" in results:
        from bench.cliwrite import print_cliwrite

        print_cliwrite(results["cliwrite"])
    print(f"results: {args.out / f'results-{cfg.mode}.json'}", file=sys.stderr)
    return 0


def run(cfg: Config, work: Path) -> dict[str, Any]:
    from bench import perport, report, workload
    from bench.datapath import datapath_key, measure_datapath
    from bench.labs import LabPool
    from bench.libvirt import measure_libvirt
    from bench.netns import sweep_stale
    from bench.perport import measure_perport
    from bench.programming import measure_cli, measure_inprocess
    from bench.startup import measure_startup

    started = time.perf_counter()
    measured = [p.name for p in workload.lab_ports()]

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {message}", file=sys.stderr, flush=True)

    stale = sweep_stale()
    if stale:
        log(f"removed namespaces of dead benchmark runs: {', '.join(stale)}")
    results: dict[str, Any] = {
        "schema": 1,
        "mode": cfg.mode,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": _host(),
        "config": cfg.__dict__.copy(),
        "programming": [],
    }
    if cfg.startup_runs:
        log("CLI start-up")
        results["startup"] = measure_startup(cfg.startup_runs, work)
    pool = LabPool()
    try:
        sizes: dict[str, dict[str, Any]] = {}  # kernel sizes of the data-path labs' rulesets
        for n in cfg.sizes:
            log(f"programming, N={n}")
            lab_ns = (
                {k: pool.get(datapath_key(k, n)).host_netns for k in ("guestwall", "per-port")}
                if n in cfg.datapath_sizes
                else {}
            )
            gw, state = measure_inprocess(n, cfg, work, log, netns=lab_ns.get("guestwall"))
            cli = measure_cli(n, cfg, work, log) if n in cfg.cli_sizes else {}
            keys = perport.measured_marks(state.final_inputs, measured) if lab_ns else ()
            pp = measure_perport(
                n, state, cfg.reps(n), work, log, netns=lab_ns.get("per-port"), datapath_keys=keys
            )
            results["programming"].append({"n": n, "guestwall": gw, "cli": cli, "perport": pp})
            if lab_ns:
                sizes[datapath_key("guestwall", n)] = gw["kernel_size_final"]
                sizes[datapath_key("per-port", n)] = pp["datapath_ruleset"]
            del state
        if cfg.datapath_sizes:
            log("data path")
            results["datapath"] = measure_datapath(cfg, pool, sizes, work, log)
    finally:
        pool.close()
    if cfg.libvirt_ports:
        log("real libvirt")
        results["libvirt"] = measure_libvirt(cfg.libvirt_ports, work, log)
    else:
        results["libvirt"] = {"available": False, "note": "not run in this mode (--libvirt-ports 0)"}
    if cfg.cloud:
        from bench.cloud import measure_cloud

        log("cloud layer")
        sizes_ = {} if cfg.mode == "full" else {"members": 100, "blocks": 1000, "rounds": 3}
        quick = {} if cfg.mode == "full" else {"traffic_seconds": 1, "traffic_rounds": 1}
        results["cloud"] = measure_cloud(work, log, **sizes_, **quick)
    if cfg.cliwrite:
        from bench.cliwrite import measure_cliwrite

        log("CLI writes: own process and through the agent, against virsh")
        # the full run: every size; --quick: its CLI size, one round
        quick = cfg.mode == "quick"
        sizes = cfg.cli_sizes if quick else cfg.sizes
        results["cliwrite"] = measure_cliwrite(
            sizes, 1 if quick else 3, work, log, virsh_bound=2 if quick else 5
        )
    results["seconds"] = time.perf_counter() - started
    results["ratios"] = report.ratios(results)
    results["targets"] = report.evaluate(results)
    return results


if __name__ == "__main__":
    sys.exit(main())
