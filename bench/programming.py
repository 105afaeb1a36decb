"""Programming time and kernel size of guestwall for N ports, in-process (service calls, split into phases)
and end to end (the ``guestwall`` command, wall time), each in a fresh store and namespace of its own.

Operations, in order: first apply of all N (bulk binding creation), re-apply with nothing changed, one edit
of the filter all ports share, adding one port, removing one port.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import workload
from bench.config import Config
from bench.netns import free_backend, kernel_size, scratch_netns
from bench.timing import PhaseClock, median, stopwatch

TABLES = ["bridge guestwall", "inet guestwall"]
Log = Callable[[str], None]


@dataclass
class InProcessState:
    """The rule programs of this N (guestwall's own instantiation), for the per-port baseline."""

    initial_inputs: list[Any] = field(default_factory=list)  # PortInput, N ports, filter variant 0
    edited_inputs: list[Any] = field(default_factory=list)  # PortInput, N ports, filter variant 1
    extra_input: Any = None  # PortInput of the port that "add one port" adds
    instantiate_s: float = 0.0  # instantiation of all N ports, as measured in the first apply

    @property
    def final_inputs(self) -> list[Any]:
        """After the operations: N ports (the extra one added and removed), filter variant 1 (odd edits)."""
        return self.edited_inputs


def op_record(total: float, clock: PhaseClock, result: Any) -> dict[str, Any]:
    """One service call: wall time and where it went (seconds), and the size of its kernel transaction."""
    split = clock.split()
    kernel = result.read_seconds + result.apply_seconds
    compile_s = split["instantiate_s"] + split["compile_ruleset_s"]
    return {
        "total_s": total,
        "compile_s": compile_s,
        **split,
        "kernel_s": kernel,
        "kernel_read_diff_s": result.read_seconds,
        "kernel_apply_s": result.apply_seconds,
        "other_s": max(total - compile_s - split["load_s"] - kernel, 0.0),  # store, parsing, formatting
        "tx_commands": len(result.transaction.commands),
        "tx_counts": result.transaction.counts(),
    }


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians of the numeric fields over repetitions; transaction sizes of every run are kept."""
    out: dict[str, Any] = {"runs": len(runs)}
    for key, value in runs[0].items():
        if isinstance(value, float):
            out[key] = median([r[key] for r in runs])
    out["tx_commands"] = max(r.get("tx_commands", 0) for r in runs)
    out["tx_commands_each"] = [r.get("tx_commands", 0) for r in runs]
    out["tx_counts"] = runs[-1].get("tx_counts", {})
    return out


def store_inputs(store: Any, only: str | None = None) -> tuple[list[Any], Any]:
    """PortInputs of the store's bindings (or of port ``only``), instantiated and compiled by guestwall's
    own pipeline outside any timed call, and the Compiled of all of them."""
    from guestwall.compile.compiler import Options, PortInput
    from guestwall.services.enforce import build_desired, load_ports
    from guestwall.services.filters import load_filters

    with store.read() as reader:
        filters = load_filters(reader)
        ports = [p for p in load_ports(reader) if only is None or p.record.portdev == only]
    desired = build_desired(filters, ports, Options())
    ids = {p.record.portdev: p.record.port_id for p in ports}
    return [PortInput(program, ids[dev]) for dev, program in desired.programs.items()], desired.compiled


def measure_inprocess(
    n: int, cfg: Config, work: Path, log: Log, netns: str | None = None
) -> tuple[dict[str, Any], InProcessState]:
    """guestwall's service calls at N ports, in a new namespace or in ``netns`` (a data-path lab's host,
    which keeps the final state loaded)."""
    from guestwall.dataplane.backend import open_backend
    from guestwall.services import bindings as svc
    from guestwall.services.enforce import enforce_from
    from guestwall.services.filters import define_filter
    from guestwall.store import open_store

    reps = cfg.reps(n)
    state = InProcessState()
    store = open_store(f"sqlite:///{work}/inproc-{n}.db")
    define_filter(store, workload.filter_xml(0))
    xmls: list[str | bytes] = [workload.binding_xml(p) for p in workload.ports(n)]
    extra_xml = workload.binding_xml(workload.extra_port())
    clock = PhaseClock()
    out: dict[str, Any] = {"n": n, "repetitions": reps}
    try:
        where = contextlib.nullcontext(netns) if netns else scratch_netns(f"gw{n}")
        with where as ns:
            backend = open_backend(ns)
            try:
                log(f"  guestwall in-process, N={n}: first apply (bulk)")
                with clock.installed(), stopwatch() as t:
                    _, result = svc.create_bindings(store, xmls, backend)
                out["first_apply"] = summarize([op_record(t[0], clock, result)])
                state.instantiate_s = out["first_apply"]["instantiate_s"]
                out["kernel_size"] = kernel_size(ns, TABLES).as_dict()
                state.initial_inputs, compiled = store_inputs(store)
                out["fallbacks"] = len(compiled.fallbacks)

                runs = []
                for _ in range(reps):
                    clock.reset()
                    with clock.installed(), stopwatch() as t:
                        result = svc.reapply(store, backend)
                    runs.append(op_record(t[0], clock, result))
                out["reapply"] = summarize(runs)

                log(f"  guestwall in-process, N={n}: shared filter edit x{reps}")
                runs = []
                for rep in range(reps):  # variants 1, 0, 1: ends with the edited filter
                    applied: list[Any] = []

                    def enforce(filters: dict[str, Any], applied: list[Any] = applied) -> None:
                        # what the CLI's filter-change hook does (guestwall.cli.binding.enforce_filters)
                        with store.read() as reader:
                            applied.append(enforce_from(reader, filters, backend))

                    clock.reset()
                    with clock.installed(), stopwatch() as t:
                        define_filter(store, workload.filter_xml(rep + 1), on_change=enforce)
                    runs.append(op_record(t[0], clock, applied[0]))
                out["edit"] = summarize(runs)
                state.edited_inputs, _ = store_inputs(store)

                log(f"  guestwall in-process, N={n}: add/remove one port x{reps}")
                adds, removes = [], []
                for _ in range(reps):
                    clock.reset()
                    with clock.installed(), stopwatch() as t:
                        _, result = svc.create_binding(store, extra_xml, backend)
                    adds.append(op_record(t[0], clock, result))
                    if state.extra_input is None:
                        state.extra_input = store_inputs(store, only=workload.EXTRA_PORT)[0][0]
                    clock.reset()
                    with clock.installed(), stopwatch() as t:
                        result = svc.delete_binding(store, workload.EXTRA_PORT, backend)
                    removes.append(op_record(t[0], clock, result))
                out["add"] = summarize(adds)
                out["remove"] = summarize(removes)
                out["kernel_size_final"] = kernel_size(ns, TABLES).as_dict()
                # after all operations the kernel must hold exactly the store's state
                out["final_check_tx_commands"] = len(svc.reapply(store, backend).transaction.commands)
            finally:
                free_backend(backend)
    finally:
        store.close()
    return out, state


# ---- the guestwall command, as a user runs it --------------------------------------------------------------


def guestwall_argv() -> list[str]:
    """The installed ``guestwall`` script of this interpreter (not a shell shim in front of it)."""
    script = Path(sys.executable).with_name("guestwall")
    return [str(script)] if script.exists() else [sys.executable, "-m", "guestwall"]


def run_cli(url: str, netns: str | None, *args: str, timeout: float = 900.0) -> float:
    """Run one guestwall command and return its wall time; raise on failure."""
    argv = [*guestwall_argv(), "--db", url, "-q"]
    if netns:
        argv += ["--netns", netns]
    t0 = time.perf_counter()
    proc = subprocess.run(
        [*argv, *args], capture_output=True, text=True, timeout=timeout, env=os.environ.copy(), check=False
    )
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"guestwall {args[0]} failed: {(proc.stderr or proc.stdout).strip()[:500]}")
    return elapsed


def measure_cli(n: int, cfg: Config, work: Path, log: Log) -> dict[str, Any]:
    reps = cfg.cli_reps(n)
    files = work / f"cli-{n}"
    files.mkdir(exist_ok=True)
    for variant in (0, 1):
        (files / f"filter{variant}.xml").write_text(workload.filter_xml(variant))
    paths = []
    for port in workload.ports(n):
        path = files / f"{port.name}.xml"
        path.write_text(workload.binding_xml(port))
        paths.append(str(path))
    extra = files / "extra.xml"
    extra.write_text(workload.binding_xml(workload.extra_port()))
    url = f"sqlite:///{work}/cli-{n}.db"
    out: dict[str, Any] = {"n": n, "repetitions": reps}
    with scratch_netns(f"cli{n}") as ns:
        run_cli(url, ns, "nwfilter-define", str(files / "filter0.xml"))  # creates the store: not timed
        log(f"  guestwall CLI, N={n}: nwfilter-binding-create with {n} files")
        out["first_apply_s"] = run_cli(url, ns, "nwfilter-binding-create", *paths)
        out["reapply_s"] = median([run_cli(url, ns, "apply") for _ in range(reps)])
        log(f"  guestwall CLI, N={n}: edit, add, remove x{reps}")
        out["edit_s"] = median(
            [
                run_cli(url, ns, "nwfilter-define", str(files / f"filter{(r + 1) % 2}.xml"))
                for r in range(reps)
            ]
        )
        adds, removes = [], []
        for _ in range(reps):
            adds.append(run_cli(url, ns, "nwfilter-binding-create", str(extra)))
            removes.append(run_cli(url, ns, "nwfilter-binding-delete", workload.EXTRA_PORT))
        out["add_s"], out["remove_s"] = median(adds), median(removes)
        out["kernel_size"] = kernel_size(ns, TABLES).as_dict()
    return out
