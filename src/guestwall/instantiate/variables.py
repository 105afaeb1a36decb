"""Variable references of a rule and the combinations of their values, exactly as libvirt iterates them.

``$X`` and ``$X[@k]`` iterate (variables sharing an iterator walk in parallel, different iterators form a
cartesian product with the first iterator varying fastest, repeated value tuples of an iterator are
skipped); ``$X[n]`` picks one element.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from guestwall.errors import InstantiationError
from guestwall.model import Rule, VarRef


class MissingVariables(InstantiationError):
    """Variables (or list elements) a binding does not provide. ``missing`` lists them as libvirt prints."""

    def __init__(self, missing: list[str], filter_name: str | None = None) -> None:
        self.missing = missing
        self.filter_name = filter_name
        where = f" (filter {filter_name})" if filter_name else ""
        super().__init__(
            "Cannot instantiate filter due to unresolvable variables or unavailable list elements: "
            + ", ".join(missing)
            + where
        )


def rule_refs(rule: Rule) -> list[VarRef]:
    """The variable references of a rule, in attribute-table order, without duplicates."""
    if rule.match is None:
        return []
    refs: list[VarRef] = []
    for _, value in rule.match.attrs:
        if isinstance(value.value, VarRef) and value.value not in refs:
            refs.append(value.value)
    return refs


def missing_refs(refs: Iterable[VarRef], values: Mapping[str, tuple[str, ...]]) -> list[str]:
    out: list[str] = []
    for ref in refs:
        have = values.get(ref.name)
        if have is None:
            text = ref.name
        elif ref.index is not None and ref.index >= len(have):
            text = f"{ref.name}[{ref.index}]"
        else:
            continue
        if text not in out:
            out.append(text)
    return out


@dataclass(frozen=True)
class _Iterator:
    names: tuple[str, ...]
    positions: tuple[int, ...]  # the positions it visits (repeated value tuples skipped)


def _iterator(names: tuple[str, ...], values: Mapping[str, tuple[str, ...]]) -> _Iterator:
    sizes = {len(values[n]) for n in names}
    if len(sizes) != 1:
        raise InstantiationError("Cardinality of list items must be the same for processing them in parallel")
    size = sizes.pop()
    seen: set[tuple[str, ...]] = set()
    positions = []
    for i in range(size):
        key = tuple(values[n][i] for n in names)
        if key not in seen:
            seen.add(key)
            positions.append(i)
    return _Iterator(names, tuple(positions))


def combinations(refs: list[VarRef], values: Mapping[str, tuple[str, ...]]) -> list[dict[VarRef, str]]:
    """Every combination of values for ``refs`` in libvirt's order (first iterator varies fastest)."""
    missing = missing_refs(refs, values)
    if missing:
        raise MissingVariables(missing)
    if all(ref.index is None and len(values[ref.name]) == 1 for ref in refs):
        return [{ref: values[ref.name][0] for ref in refs}]  # the common case: one value each
    order: list[int] = []
    members: dict[int, list[str]] = {}
    for ref in refs:
        if ref.index is None:
            if ref.iterator not in members:
                order.append(ref.iterator)
                members[ref.iterator] = []
            if ref.name not in members[ref.iterator]:
                members[ref.iterator].append(ref.name)
    iterators = [_iterator(tuple(members[i]), values) for i in order]
    counters = [0] * len(iterators)
    result: list[dict[VarRef, str]] = []
    while True:
        combo: dict[VarRef, str] = {}
        for ref in refs:
            if ref.index is not None:
                combo[ref] = values[ref.name][ref.index]
            else:
                it = order.index(ref.iterator)
                combo[ref] = values[ref.name][iterators[it].positions[counters[it]]]
        result.append(combo)
        # odometer step
        for k, iterator in enumerate(iterators):
            counters[k] += 1
            if counters[k] < len(iterator.positions):
                break
            counters[k] = 0
        else:
            return result
