"""The filter tree walk (instantiate.tree): iterative, so depth is bounded by memory, not the stack."""

from __future__ import annotations


def test_a_deep_filter_chain_is_walked_without_recursion() -> None:
    """instantiate.tree walks filterrefs with its own stack: 5000 filters deep is a result, not a
    RecursionError (Python's limit is 1000 frames)."""
    from guestwall.instantiate.tree import Env, walk
    from guestwall.model import FilterRef, make_params
    from guestwall.nwfilter import parse_filter

    depth = 5000
    filters = {}
    for i in range(depth):
        ref = f"<filterref filter='f{i + 1}'/>" if i + 1 < depth else ""
        rule = "<rule action='accept' direction='out' priority='500'><all/></rule>"
        f = parse_filter(f"<filter name='f{i}' chain='root'>{rule}{ref}</filter>")
        filters[f.name] = f
    rules = walk(FilterRef("f0", make_params({})), filters, Env({}, frozenset()))
    assert [r.filter for r in rules] == [f"f{i}" for i in range(depth)]
    assert all(r.number == 1 for r in rules)
