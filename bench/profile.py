"""Profile one guestwall operation at N ports with pyinstrument (``pip install pyinstrument``):

    python -m bench.profile --n 1000 --op add [--reps 20] [--html out.html]

Operations as in the benchmark: ``first`` (bulk creation of N bindings), ``reapply``, ``edit``, ``add``,
``remove``. The store and the namespace are temporary; only the profiled calls are recorded (``--reps``
times, with what undoes each one in between, not recorded: remove after add, add after remove, the other
filter variant after an edit; ``first`` runs once). The median wall time of one call is printed too.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--op", choices=("first", "reapply", "edit", "add", "remove"), default="add")
    parser.add_argument("--reps", type=int, default=1, help="profiled calls (not for first)")
    parser.add_argument("--html", type=Path, help="write pyinstrument's HTML report here")
    parser.add_argument("--plain", action="store_true", help="time the calls only, without the profiler")
    args = parser.parse_args(argv)
    profiler: Any = None
    if not args.plain:  # --plain times the calls only: no profiler needed
        try:
            from pyinstrument import Profiler
        except ImportError:
            print("pyinstrument is not installed: pip install pyinstrument, or --plain", file=sys.stderr)
            return 2
        profiler = Profiler(interval=0.0005)
    with tempfile.TemporaryDirectory(prefix="gwbench-prof-") as tmp:
        os.environ["GUESTWALL_RUN_DIR"] = f"{tmp}/run"
        from bench import workload
        from bench.netns import free_backend, scratch_netns
        from bench.programming import FilterHook
        from bench.timing import TimedBackend, median
        from guestwall.config import HostConfig
        from guestwall.dataplane.backend import open_backend
        from guestwall.engine import Engine
        from guestwall.services import bindings as svc
        from guestwall.services.filters import define_filter
        from guestwall.store import open_store

        store = open_store(f"sqlite:///{tmp}/profile.db")
        define_filter(store, workload.filter_xml(0))
        xmls: list[str | bytes] = [workload.binding_xml(p) for p in workload.ports(args.n)]
        extra = workload.binding_xml(workload.extra_port())
        with scratch_netns("prof") as ns:
            backend = TimedBackend(open_backend(ns))
            engine = Engine(backend, HostConfig())
            try:
                if args.op != "first":
                    svc.create_bindings(store, xmls, engine)
                if args.op == "remove":
                    svc.create_binding(store, extra, engine)

                hook = FilterHook(store, engine)  # nwfilter-define's path, incremental where it can be

                variant = iter(range(1, 1_000_000))
                call: Callable[[], Any] = {
                    "first": lambda: svc.create_bindings(store, xmls, engine),
                    "reapply": lambda: svc.reapply(store, engine),
                    "edit": lambda: hook.define(workload.filter_xml(next(variant) % 2)),
                    "add": lambda: svc.create_binding(store, extra, engine),
                    "remove": lambda: svc.delete_binding(store, workload.EXTRA_PORT, engine),
                }[args.op]
                undo: Callable[[], Any] = {
                    "add": lambda: svc.delete_binding(store, workload.EXTRA_PORT, engine),
                    "remove": lambda: svc.create_binding(store, extra, engine),
                }.get(args.op, lambda: None)
                reps = 1 if args.op == "first" else max(args.reps, 1)
                walls, cpus = [], []
                for rep in range(reps):
                    if rep:
                        undo()
                    t0, c0 = time.perf_counter(), time.process_time()
                    if args.plain:
                        call()
                    else:
                        profiler.start()
                        call()
                        profiler.stop()
                    walls.append(time.perf_counter() - t0)
                    cpus.append(time.process_time() - c0)
            finally:
                free_backend(backend.backend)
                store.close()
    if args.html and not args.plain:
        args.html.write_text(profiler.output_html())
    if not args.plain:
        print(profiler.output_text(unicode=True, color=False, show_all=False))
    print(
        f"{args.op} at N={args.n}: median {median(walls) * 1e3:.2f} ms wall, {median(cpus) * 1e3:.2f} ms CPU "
        f"over {len(walls)} call(s){'' if args.plain else ', profiled'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
