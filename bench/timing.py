"""Clocks: wall time of a block, medians, and the phase split of one guestwall service call.

``PhaseClock`` wraps the steps of the enforcement pipeline, i.e. the module attributes the services call
through (``PHASES``), for the duration of a block. One real service call is so split into loading,
instantiation, compilation, kernel read+diff and kernel transaction without changing guestwall.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


@contextlib.contextmanager
def stopwatch() -> Iterator[list[float]]:
    """``with stopwatch() as t: ...`` then ``t[0]`` is the block's wall time in seconds."""
    box: list[float] = []
    t0 = time.perf_counter()
    try:
        yield box
    finally:
        box.append(time.perf_counter() - t0)


# (module, attribute) -> phase. Whatever a refactoring removed is simply not timed; a service call's total
# and kernel time (TimedBackend) never depend on these.
PHASES = {
    ("guestwall.engine.desired", "build_desired"): "build",  # instantiate all ports + compile
    ("guestwall.engine.desired", "compile_ruleset"): "build.compile",  # (inside build)
    ("guestwall.engine.desired", "load_ports"): "load",
    ("guestwall.engine.incremental", "_compile_one"): "one",  # one group representative, both
    ("guestwall.engine.incremental", "compile_ruleset"): "one.compile",  # (inside one, or one port's)
    ("guestwall.engine.memo", "compile_ruleset"): "one.compile",  # (inside one, when not remembered)
    ("guestwall.engine.incremental", "port_program"): "instantiate",  # one port's program
    ("guestwall.services.filters", "load_filters"): "load",  # parse every stored filter
    ("guestwall.services.filters", "load_filter_tree"): "load",  # parse one filter tree
    ("guestwall.engine.desired", "load_definitions"): "load",  # the filter trees the bindings use
    ("guestwall.engine.engine", "load_definitions"): "load",  # (the incremental path's)
}


class TimedBackend:
    """A guestwall Backend that measures the time spent in the kernel calls: reading our tables back
    (``list_json``, JSON decoding included) and running transactions (``run``)."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.netns = backend.netns
        self.read_s = 0.0
        self.run_s = 0.0
        self.commands: list[Any] = []  # every command run since the last reset

    def reset(self) -> None:
        self.read_s = self.run_s = 0.0
        self.commands = []

    def run(self, tx: Any) -> None:
        self.commands += list(tx.commands)
        t0 = time.perf_counter()
        try:
            self.backend.run(tx)
        finally:
            self.run_s += time.perf_counter() - t0

    def list_json(self, *args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return self.backend.list_json(*args, **kwargs)
        finally:
            self.read_s += time.perf_counter() - t0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)


@dataclass
class PhaseClock:
    spent: dict[str, float] = field(default_factory=dict)

    def reset(self) -> None:
        self.spent = {}

    def split(self) -> dict[str, float]:
        """Seconds of instantiation, of compilation and of loading the store's bindings and filters, as far
        as this version of guestwall exposes them (full and incremental paths)."""
        sp = self.spent.get
        compile_s = sp("build.compile", 0.0) + sp("compile", 0.0) + sp("one.compile", 0.0)
        instantiate_s = (
            max(sp("build", 0.0) - sp("build.compile", 0.0), 0.0)
            + sp("instantiate", 0.0)
            + max(sp("one", 0.0) - sp("one.compile", 0.0), 0.0)
        )
        return {"instantiate_s": instantiate_s, "compile_ruleset_s": compile_s, "load_s": sp("load", 0.0)}

    def _timed(self, phase: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.spent[phase] = self.spent.get(phase, 0.0) + time.perf_counter() - t0

        return wrapper

    @contextlib.contextmanager
    def installed(self) -> Iterator[PhaseClock]:
        import importlib

        saved = []
        for (module_name, attr), phase in PHASES.items():
            module = importlib.import_module(module_name)
            original = getattr(module, attr, None)
            if original is None:
                continue
            saved.append((module, attr, original))
            setattr(module, attr, self._timed(phase, original))
        try:
            yield self
        finally:
            for module, attr, original in saved:
                setattr(module, attr, original)
