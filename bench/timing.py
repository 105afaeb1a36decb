"""Clocks: wall time of a block, medians, and the phase split of one guestwall service call.

``PhaseClock`` wraps the steps of the enforcement pipeline, i.e. the module attributes the services call
through (loading, ``build_desired`` = instantiate + compile, ``compile_ruleset``), for the duration of a
block. One real service call is so split into store/parse, instantiate, compile, kernel read+diff and
kernel transaction without changing guestwall. The clock also keeps the last compiled state (per-port
inputs and desired ruleset), so the baselines reuse exactly what guestwall computed.
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


@dataclass
class PhaseClock:
    spent: dict[str, float] = field(default_factory=dict)
    last_inputs: list[Any] = field(default_factory=list)  # PortInput of the last compile
    last_compiled: Any = None  # Compiled of the last compile

    def reset(self) -> None:
        self.spent = {}

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
        import guestwall.services.bindings as bindings
        import guestwall.services.enforce as enforce

        clock = self

        def keeping(compile_ruleset: Callable[..., Any]) -> Callable[..., Any]:
            def compile_and_keep(ports: Any, *args: Any, **kwargs: Any) -> Any:
                clock.last_inputs = list(ports)
                clock.last_compiled = compile_ruleset(ports, *args, **kwargs)
                return clock.last_compiled

            return compile_and_keep

        # (module, attribute, phase); an attribute a refactoring removed is simply not timed
        targets = [
            (enforce, "load_ports", "load_ports"),
            (enforce, "build_desired", "build"),
            (enforce, "compile_ruleset", "compile"),
            (bindings, "load_filters", "load_filters"),
        ]
        saved = [(m, name, getattr(m, name)) for m, name, _ in targets if hasattr(m, name)]
        patches = [
            (
                m,
                name,
                self._timed(phase, keeping(getattr(m, name)) if phase == "compile" else getattr(m, name)),
            )
            for m, name, phase in targets
            if hasattr(m, name)
        ]
        try:
            for module, name, replacement in patches:
                setattr(module, name, replacement)
            yield self
        finally:
            for module, name, original in saved:
                setattr(module, name, original)
