"""Walk a binding's filter tree (filterrefs, depth first, document order) into rule instances with variables.

As libvirt: a filter included several times is expanded every time; a child's variables are its filterref's
parameters overridden by the caller's (so values given at the top win everywhere below).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from guestwall.errors import InstantiationError
from guestwall.model import Filter, FilterRef, Rule


@dataclass(frozen=True)
class Env:
    """Variable values valid at one point of the tree; ``top`` names come from the binding itself."""

    values: Mapping[str, tuple[str, ...]]
    top: frozenset[str]

    def child(self, ref: FilterRef) -> Env:
        merged = dict(ref.param_dict())
        merged.update(self.values)  # the caller's values win
        return Env(merged, self.top)


@dataclass(frozen=True)
class RuleInstance:
    rule: Rule
    filter: str
    number: int  # 1-based position among the filter's <rule> elements
    chain: str
    chain_priority: int
    env: Env
    sequence: int  # position in tree order, for stable sorting


def walk(ref: FilterRef, filters: Mapping[str, Filter], env: Env) -> list[RuleInstance]:
    """All rule instances of the tree under ``ref`` (whose parameters are already in ``env``).

    Iterative (an explicit stack of open filters): a long user-made chain of filterrefs ends in a clear
    error or a result, never in Python's recursion limit."""
    out: list[RuleInstance] = []
    # one frame per open filter: its definition, its environment, the next entry, rules numbered so far
    stack: list[tuple[Filter, Env, int, int]] = [(_open(ref.filter, filters, ()), env, 0, 0)]
    path: list[str] = [ref.filter]
    while stack:
        f, here, index, number = stack.pop()
        if index == len(f.entries):
            path.pop()
            continue
        entry = f.entries[index]
        if isinstance(entry, Rule):
            number += 1
            out.append(RuleInstance(entry, f.name, number, f.chain, f.priority, here, len(out)))
            stack.append((f, here, index + 1, number))
        else:
            stack.append((f, here, index + 1, number))
            stack.append((_open(entry.filter, filters, path), here.child(entry), 0, 0))
            path.append(entry.filter)
    return out


def _open(name: str, filters: Mapping[str, Filter], path: list[str] | tuple[str, ...]) -> Filter:
    if name in path:
        raise InstantiationError(f"filter '{name}' includes itself: {' -> '.join((*path, name))}")
    f = filters.get(name)
    if f is None:
        raise InstantiationError(f"referenced filter '{name}' is missing")
    return f


def reachable_filters(filters: Mapping[str, Filter], roots: Iterable[str]) -> set[str]:
    """Names of every filter reachable from ``roots`` through filterrefs (roots and missing ones included)."""
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        f = filters.get(current)
        if f is not None:
            stack.extend(ref.filter for ref in f.refs)
    return seen
