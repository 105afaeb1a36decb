"""What the engine's incremental paths compute again and again, remembered by value.

A long-running engine (the agent, an API server) plans a group's structure for every port that comes or
goes (``instantiate.Planner``), and compiles a group's representative port before and after every filter
edit (the edit before is the one after of the previous edit). Keys are the values themselves: the filter
definitions reachable from the top filter, the binding, the options, the address sets. A changed definition
is a different key, never a stale hit. The memos are bounded (least recently used out first), and what they
hold is shared: callers never change it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import Generic, TypeVar

from guestwall.compile.compiler import Compiled, Options, PortInput, compile_ruleset
from guestwall.instantiate.build import Planner
from guestwall.instantiate.tree import reachable_filters
from guestwall.model import AddressSet, Binding, Filter

V = TypeVar("V")

# The filter definitions one top filter reaches, by name (None: referenced, not defined), sorted by name.
Tree = tuple[tuple[str, Filter | None], ...]


class Memo(Generic[V]):
    """A bounded map from a hashable key to a computed value, least recently used out first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._values: OrderedDict[Hashable, V] = OrderedDict()

    def get(self, key: Hashable, compute: Callable[[], V]) -> V:
        value = self._values.get(key)
        if value is None:
            value = self._values[key] = compute()
            if len(self._values) > self.size:
                self._values.popitem(last=False)
        else:
            self._values.move_to_end(key)
        return value

    def clear(self) -> None:
        self._values.clear()


def tree_of(filters: Mapping[str, Filter], top: str) -> Tree:
    """The definitions instantiating ``top`` reads: its key in the memos."""
    return tuple((name, filters.get(name)) for name in sorted(reachable_filters(filters, [top])))


_planners: Memo[Planner] = Memo(64)


def planner(filters: Mapping[str, Filter], top: str) -> Planner:
    """A planner for the bindings of ``top``: one per set of definitions, so each group (top filter and
    provided names) is planned once per definition, not once per port."""
    tree = tree_of(filters, top)
    return _planners.get(tree, lambda: Planner({n: f for n, f in tree if f is not None}))


_representatives: Memo[Compiled] = Memo(64)


def compiled_alone(
    filters: Mapping[str, Filter],
    binding: Binding,
    port_id: int,
    address_sets: Mapping[str, AddressSet],
    options: Options,
) -> Compiled:
    """One binding instantiated (with nothing learned) and compiled alone: a group's chains as a filter
    edit plans them. Raises what instantiation raises (nothing is remembered then)."""
    top = binding.filterref.filter
    tree = tree_of(filters, top)
    key = (tree, binding, port_id, options, tuple(sorted(address_sets.items())))

    def compute() -> Compiled:
        program = planner(filters, top).instantiate(binding)
        return compile_ruleset([PortInput(program, port_id)], options, address_sets)

    return _representatives.get(key, compute)


def clear() -> None:
    """Forget everything (tests that count what is computed)."""
    _planners.clear()
    _representatives.clear()
