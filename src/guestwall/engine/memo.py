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

from guestwall.compile.compiler import Compiled, Options, PortInput, clear_memo, compile_ruleset
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


class TreeKey:
    """The definitions instantiating a top filter reads, as a memo key: compared by value, hashed once per
    definition object (parsed definitions are remembered, so the same objects come back on every change:
    hashing a tree of frozen values anew each time would cost what the memo saves)."""

    __slots__ = ("_hash", "tree")

    def __init__(self, tree: Tree) -> None:
        self.tree = tree
        self._hash = hash(tuple((name, _hash_of(f)) for name, f in tree))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        # equal trees of the same objects compare by identity, element by element: cheap
        return isinstance(other, TreeKey) and self._hash == other._hash and self.tree == other.tree


# A definition object's hash, by its id; the object is held, so its id cannot be reused while here. A hash
# found here for a new object with an old id is never wrong: ``_hash_of`` checks it is the same object.
_hashes: dict[int, tuple[Filter, int]] = {}


def _hash_of(definition: Filter | None) -> int:
    if definition is None:
        return hash(None)
    hit = _hashes.get(id(definition))
    if hit is not None and hit[0] is definition:
        return hit[1]
    if len(_hashes) > 4096:
        _hashes.clear()
    value = hash(definition)
    _hashes[id(definition)] = (definition, value)
    return value


def tree_of(filters: Mapping[str, Filter], top: str) -> TreeKey:
    """The definitions instantiating ``top`` reads: its key in the memos."""
    return TreeKey(tuple((name, filters.get(name)) for name in sorted(reachable_filters(filters, [top]))))


_planners: Memo[Planner] = Memo(64)


def planner(filters: Mapping[str, Filter], top: str) -> Planner:
    """A planner for the bindings of ``top``: one per set of definitions, so each group (top filter and
    provided names) is planned once per definition, not once per port."""
    key = tree_of(filters, top)
    return _planners.get(key, lambda: Planner({n: f for n, f in key.tree if f is not None}))


_representatives: Memo[Compiled] = Memo(64)
# Address sets are part of the key: beyond this many networks in them, compiling is cheaper than the key.
_KEYED_NETWORKS = 256


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

    def compute() -> Compiled:
        program = planner(filters, top).instantiate(binding)
        return compile_ruleset([PortInput(program, port_id)], options, address_sets)

    if sum(len(a.networks) for a in address_sets.values()) > _KEYED_NETWORKS:
        return compute()  # hashing 10,000 provider blocks costs more than compiling one port
    key = (tree_of(filters, top), binding, port_id, options, tuple(sorted(address_sets.items())))
    return _representatives.get(key, compute)


def clear() -> None:
    """Forget everything (tests that count what is computed)."""
    _planners.clear()
    _representatives.clear()
    _hashes.clear()
    clear_memo()
