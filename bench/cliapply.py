"""First apply of N ports through the CLI, as a user does it, against the same apply in-process measured in
the same run (the ratio is the figure: the machine's load moves both).

Each repetition starts from a store holding only the filter and a namespace whose kernel holds none of our
tables, then times one command:

- ``nwfilter-binding-create`` of N binding files in a process of its own (``GUESTWALL_LOCAL=1``);
- the same command run by a running agent (docs/cli-daemon.md; the agent is started per repetition on a
  fresh copy of the store, and a first command, not timed, waits for its warm-up);
- ``apply`` of a store already holding the N bindings (after a reboot: the kernel has none of our tables);
  ``apply`` always runs in its own process.

The baseline is ``python -m bench.profile --plain --op first`` in the same run: ``create_bindings`` of
the same N bindings in a process that has imported everything. ``python -c pass`` is the floor of any
process.
``python -m bench.cliapply [--n 1000] [--reps 3]`` (root: it creates network namespaces).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import workload
from bench.cliwrite import python_pass, running_agent
from bench.netns import nft, scratch_netns
from bench.programming import TABLES, guestwall_argv
from bench.standalone import Log, elapsed_log, is_root, work_dir
from bench.timing import median


def _cli(url: str, netns: str, cwd: Path, args: list[str], *, local: bool) -> float:
    env = os.environ.copy()
    env.pop("GUESTWALL_LOCAL", None)
    if local:
        env["GUESTWALL_LOCAL"] = "1"
    argv = [*guestwall_argv(), "--db", url, "--netns", netns, "-q", *args]
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, timeout=900)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"guestwall {args[0]}: {(proc.stderr or proc.stdout).strip()[:400]}")
    return elapsed


def _empty_kernel(netns: str) -> None:
    """Our tables out of the namespace: the kernel as after a reboot."""
    listed = nft(netns, ["list", "tables"])
    for table in TABLES:
        if f"table {table}" in listed:
            nft(netns, ["delete", "table", *table.split()])


def in_process(n: int) -> float:
    """The baseline: ``python -m bench.profile --plain --op first`` (the N bindings created and applied by
    the services in a process that has imported everything: the in-process first apply, cold)."""
    argv = [sys.executable, "-m", "bench.profile", "--plain", "--op", "first", "--n", str(n)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False)
    match = re.search(r"median ([0-9.]+) ms wall", proc.stdout)
    if proc.returncode != 0 or match is None:
        raise RuntimeError(f"bench.profile: {(proc.stderr or proc.stdout).strip()[-400:]}")
    return float(match.group(1)) / 1e3


def measure_cliapply(n: int, reps: int, work: Path, log: Log) -> dict[str, Any]:
    files = work / "xml"
    files.mkdir()
    (files / "filter.xml").write_text(workload.filter_xml(0))
    names = []
    for port in workload.ports(n):
        (files / f"{port.name}.xml").write_text(workload.binding_xml(port))
        names.append(f"{port.name}.xml")
    times: dict[str, list[float]] = {"in_process": [], "process": [], "agent": [], "apply": []}
    with scratch_netns(f"ca{n}") as ns:
        template = work / "template.db"
        _cli(f"sqlite:///{template}", ns, files, ["nwfilter-define", "filter.xml"], local=True)
        for r in range(reps):
            log(f"  first apply of {n} ports, repetition {r + 1}/{reps}")
            times["in_process"].append(in_process(n))
            for mode in ("process", "agent"):
                _empty_kernel(ns)
                db = work / f"{mode}-{r}.db"
                shutil.copy(template, db)
                url = f"sqlite:///{db}"
                create = ["nwfilter-binding-create", *names]
                if mode == "agent":
                    with running_agent(url, ns, work / f"agent-{r}.log"):
                        # ready before its warm-up ends: a first command (not timed) waits for it
                        _cli(url, ns, files, ["nwfilter-define", "filter.xml"], local=False)
                        times[mode].append(_cli(url, ns, files, create, local=False))
                else:
                    times[mode].append(_cli(url, ns, files, create, local=True))
            _empty_kernel(ns)  # the store of the last mode holds the N bindings
            times["apply"].append(_cli(f"sqlite:///{db}", ns, files, ["apply"], local=True))
    base = median(times["in_process"])
    out: dict[str, Any] = {"n": n, "repetitions": reps, "python_pass_s": python_pass(5)}
    for name, values in times.items():
        out[name] = {"median_s": median(values), "runs": values, "ratio_to_in_process": median(values) / base}
    return out


def print_cliapply(results: dict[str, Any], file: Any = None) -> None:
    labels = {
        "in_process": "in-process create_bindings (baseline)",
        "process": "nwfilter-binding-create, own process",
        "agent": "nwfilter-binding-create, by the agent",
        "apply": "apply (store holds them), own process",
    }
    print(f"First apply of {results['n']} ports, median of {results['repetitions']}:", file=file)
    for key, label in labels.items():
        row = results[key]
        print(f"  {label:40s} {row['median_s'] * 1e3:7.0f} ms  x{row['ratio_to_in_process']:.2f}", file=file)
    print(f"  {'python -c pass':40s} {results['python_pass_s'] * 1e3:7.0f} ms", file=file)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cliapply", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if not is_root():
        return 2
    with work_dir("gwcliapply-") as work:
        results = measure_cliapply(args.n, args.reps, work, elapsed_log())
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    print_cliapply(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
