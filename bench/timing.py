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
# and kernel time (from its ApplyResult) never depend on these.
PHASES = {
    ("guestwall.services.enforce", "build_desired"): "build",  # instantiate all ports + compile
    ("guestwall.services.enforce", "compile_ruleset"): "compile",  # (inside build)
    ("guestwall.services.enforce", "load_ports"): "load",
    ("guestwall.services.bindings", "load_filters"): "load",
    ("guestwall.services.bindings", "enforced_program"): "instantiate_one",  # one port's program
    ("guestwall.services.bindings", "compile_ruleset"): "compile_one",  # one port's rules
}


@dataclass
class PhaseClock:
    spent: dict[str, float] = field(default_factory=dict)

    def reset(self) -> None:
        self.spent = {}

    def split(self) -> dict[str, float]:
        """Seconds of instantiation and of compilation (all ports, or one port on the incremental path) and
        of loading the store's bindings and filters, as far as this version of guestwall exposes them."""
        sp = self.spent
        compile_s = sp.get("compile", 0.0) + sp.get("compile_one", 0.0)
        instantiate_s = max(sp.get("build", 0.0) - sp.get("compile", 0.0), 0.0) + sp.get(
            "instantiate_one", 0.0
        )
        return {"instantiate_s": instantiate_s, "compile_ruleset_s": compile_s, "load_s": sp.get("load", 0.0)}

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
