"""Programming time and kernel size of guestwall for N ports, in-process (service calls, split into phases)
and end to end (the ``guestwall`` command, wall time), each in a fresh store and namespace of its own.

Operations, in order: first apply of all N (bulk binding creation), re-apply with nothing changed, one edit
of the filter all ports share, adding one port, removing one port.
"""

from __future__ import annotations

import contextlib
import functools
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
from bench.standalone import stop
from bench.timing import PhaseClock, TimedBackend, median, stopwatch

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


def op_record(total: float, clock: PhaseClock, backend: TimedBackend, result: Any) -> dict[str, Any]:
    """One service call: wall time and where it went (seconds), and the size of its kernel transaction."""
    split = clock.split()
    kernel = backend.read_s + backend.run_s
    compile_s = split["instantiate_s"] + split["compile_ruleset_s"]
    return {
        "total_s": total,
        "compile_s": compile_s,
        **split,
        "kernel_s": kernel,
        "kernel_read_s": backend.read_s,
        "kernel_apply_s": backend.run_s,
        "other_s": max(total - compile_s - split["load_s"] - kernel, 0.0),  # store, parsing, diff
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


class FilterHook:
    """Redefine a filter as ``guestwall nwfilter-define`` does: through the engine (its incremental
    filter-edit path where it has one), on our store and backend."""

    def __init__(self, store: Any, engine: Any) -> None:
        self.store, self.engine = store, engine
        self.path = "engine"

    def define(self, xml: str) -> Any:
        from guestwall.services.filters import define_filter

        define_filter(self.store, xml, engine=self.engine)
        return _Applied(self.engine.backend)


class _Applied:
    """The hook returns nothing: the transaction is what the backend ran."""

    def __init__(self, backend: Any) -> None:
        from guestwall.nft.commands import Transaction

        self.transaction = Transaction(tuple(backend.commands))


def store_inputs(store: Any, only: str | None = None, variant: int | None = None) -> tuple[list[Any], Any]:
    """PortInputs of the store's bindings (or of port ``only``), instantiated and compiled by guestwall's
    own pipeline outside any timed call (with the bench filter's ``variant`` if given), and their Compiled."""
    with store.read() as reader:
        return store_inputs_from(reader, only, variant)


def store_inputs_from(
    reader: Any, only: str | None = None, variant: int | None = None
) -> tuple[list[Any], Any]:
    from guestwall.compile.compiler import Options, PortInput
    from guestwall.engine.desired import build_desired, load_ports
    from guestwall.nwfilter import parse_filter
    from guestwall.services.filters import load_filters

    filters = load_filters(reader)
    if variant is not None:
        filters[workload.FILTER] = parse_filter(workload.filter_xml(variant))
    ports = [p for p in load_ports(reader) if only is None or p.record.portdev == only]
    desired = build_desired(filters, ports, Options())
    ids = {p.record.portdev: p.record.port_id for p in ports}
    return [PortInput(program, ids[dev]) for dev, program in desired.programs.items()], desired.compiled


def measure_inprocess(
    n: int, cfg: Config, work: Path, log: Log, netns: str | None = None
) -> tuple[dict[str, Any], InProcessState]:
    """guestwall's service calls at N ports, in a process of their own (a fresh interpreter, as the agent
    or an API server would run them, not one that holds the benchmark's other data): see ``measure_here``."""
    import pickle

    result = work / f"inproc-{n}.pickle"
    argv = [sys.executable, "-m", "bench.programming", str(n), str(cfg.reps(n)), str(work), str(result)]
    if netns:
        argv.append(netns)
    root = Path(__file__).resolve().parent.parent  # where ``-m bench.programming`` is found
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, env=os.environ.copy(), cwd=root)
    assert proc.stderr is not None
    try:
        for line in proc.stderr:  # the child's progress lines, and its traceback if it fails
            log(line.rstrip())
        status = proc.wait()
    finally:
        stop(proc)  # we are being stopped: the child cleans up and goes first
    if status != 0:
        raise RuntimeError(f"the in-process measurement at N={n} failed (status {status})")
    with open(result, "rb") as f:
        out, state = pickle.load(f)
    result.unlink()
    return out, state


def _child(argv: list[str]) -> None:
    import pickle
    from dataclasses import replace

    from bench.config import QUICK
    from bench.netns import exit_on_sigterm

    exit_on_sigterm()
    n, reps, work, result = int(argv[0]), int(argv[1]), Path(argv[2]), Path(argv[3])
    netns = argv[4] if len(argv) > 4 else None
    cfg = replace(QUICK, max_reps=reps)
    warm = work / f"warm-up-{n}"
    warm.mkdir(exist_ok=True)
    measure_here(2, replace(cfg, max_reps=1), warm, lambda _: None)  # imports and caches: not measured

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    measured = measure_here(n, cfg, work, log, netns)
    with open(result, "wb") as f:
        pickle.dump(measured, f)


def measure_here(
    n: int, cfg: Config, work: Path, log: Log, netns: str | None = None
) -> tuple[dict[str, Any], InProcessState]:
    """guestwall's service calls at N ports, in a new namespace or in ``netns`` (a data-path lab's host,
    which keeps the final state loaded)."""
    from guestwall.config import HostConfig
    from guestwall.dataplane.backend import open_backend
    from guestwall.engine import Engine
    from guestwall.services import bindings as svc
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
            backend = TimedBackend(open_backend(ns))
            engine = Engine(backend, HostConfig())

            def timed(call: Callable[[], Any]) -> tuple[Any, dict[str, Any]]:
                clock.reset()
                backend.reset()
                with clock.installed(), stopwatch() as t:
                    value = call()
                result = value[1] if isinstance(value, tuple) else value
                return value, op_record(t[0], clock, backend, result)

            try:
                log(f"  guestwall in-process, N={n}: first apply (bulk)")
                _, record = timed(lambda: svc.create_bindings(store, xmls, engine))
                out["first_apply"] = summarize([record])
                state.instantiate_s = record["instantiate_s"]
                out["kernel_size"] = kernel_size(ns, TABLES).as_dict()

                out["reapply"] = summarize(
                    [timed(lambda: svc.reapply(store, engine))[1] for _ in range(reps)]
                )

                log(f"  guestwall in-process, N={n}: shared filter edit x{reps}")
                hook = FilterHook(store, engine)
                runs = []
                for rep in range(reps):  # variants 1, 0, 1: ends with the edited filter
                    _, record = timed(functools.partial(hook.define, workload.filter_xml(rep + 1)))
                    runs.append(record)
                out["edit"] = summarize(runs)
                out["edit"]["path"] = hook.path

                log(f"  guestwall in-process, N={n}: add/remove one port x{reps}")
                adds, removes = [], []
                for _ in range(reps):
                    adds.append(timed(lambda: svc.create_binding(store, extra_xml, engine))[1])
                    removes.append(timed(lambda: svc.delete_binding(store, workload.EXTRA_PORT, engine))[1])
                out["add"] = summarize(adds)
                out["remove"] = summarize(removes)
                out["kernel_size_final"] = kernel_size(ns, TABLES).as_dict()
                # after all operations the kernel must hold exactly the store's state
                out["final_check_tx_commands"] = len(svc.reapply(store, engine).transaction.commands)
            finally:
                free_backend(backend.backend)
        # The programs for the per-port baseline, computed by guestwall's pipeline after the timed calls (so
        # that nothing big is alive while they run): filter variant 0 (initial), 1 (edited), the extra port.
        state.edited_inputs, compiled = store_inputs(store)
        out["fallbacks"] = len(compiled.fallbacks)
        state.initial_inputs, _ = store_inputs(store, variant=0)
        with store.write() as writer:  # the extra port once more, only for its program; never committed
            from guestwall.nwfilter import format_binding, parse_binding
            from guestwall.services.bindings import with_mac_parameter

            binding = with_mac_parameter(parse_binding(extra_xml))
            writer.add_binding(binding.portdev, binding.filterref.filter, format_binding(binding))
            state.extra_input = store_inputs_from(writer, only=workload.EXTRA_PORT)[0][0]
            raise _Rollback
    except _Rollback:
        pass
    finally:
        store.close()
    return out, state


class _Rollback(Exception):
    """Leaves a store write transaction without committing."""


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


if __name__ == "__main__":
    # through the module's own name, so that what is pickled names bench.programming, not __main__
    from bench.programming import _child as child

    child(sys.argv[1:])
