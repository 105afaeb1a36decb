"""instantiate.checks combines one value per variable without libvirt's iterator machinery: whenever it
does, the iterator (instantiate.variables.combinations) gives that one combination too."""

from __future__ import annotations

import itertools

from guestwall.errors import InstantiationError
from guestwall.instantiate.checks import _one_combination
from guestwall.instantiate.variables import combinations
from guestwall.model import VarRef

REFS: list[VarRef] = [VarRef("A"), VarRef("B"), VarRef("A", index=0), VarRef("B", iterator=1), VarRef("C")]
VALUES: list[dict[str, tuple[str, ...]]] = [
    {"A": ("1",), "B": ("2",)},
    {"A": ("1", "2"), "B": ("3",)},
    {"A": ("1",), "B": ("2", "2")},
    {"A": ("1",), "B": ("2",), "C": ("3",)},
    {"A": ("1",)},
]


def test_the_shortcut_gives_what_the_iterator_gives() -> None:
    taken = 0
    for size in (0, 1, 2, 3):
        for refs in itertools.permutations(REFS, size):
            for values in VALUES:
                one = _one_combination(refs, values)
                if one is None:
                    continue
                taken += 1
                assert combinations(list(refs), values) == [one], (refs, values)
    assert taken > 20  # the shortcut was taken often enough to compare


def test_the_shortcut_leaves_lists_indexes_and_missing_values_to_the_iterator() -> None:
    assert _one_combination((VarRef("A"),), {"A": ("1", "2")}) is None
    assert _one_combination((VarRef("A", index=0),), {"A": ("1",)}) is None
    assert _one_combination((VarRef("C"),), {"A": ("1",)}) is None
    try:
        combinations([VarRef("C")], {"A": ("1",)})
    except InstantiationError as e:
        assert "C" in str(e)  # the iterator says what is missing
    else:
        raise AssertionError("a missing variable must be an error")
