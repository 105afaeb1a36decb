"""Variables, lists and iterators, with libvirt's precedence, order and error messages (reference §1.7)."""

from __future__ import annotations

import pytest
from helpers import MAC, chain, filters, program

from guestwall.errors import InstantiationError
from guestwall.instantiate.fields import Shape
from guestwall.instantiate.program import HoleShape, ProgramRule, Stage, Value
from guestwall.instantiate.variables import MissingVariables, combinations
from guestwall.model import VarRef


def test_iterators_parallel_and_cartesian_in_odometer_order() -> None:
    a1, b2, c2 = VarRef("A", iterator=1), VarRef("B", iterator=2), VarRef("C", iterator=2)
    values = {
        "A": ("1.1.1.1", "2.2.2.2", "3.3.3.3", "3.3.3.3"),
        "B": ("80", "90", "80", "80"),
        "C": ("1080", "1090", "1100", "1110"),
    }
    combos = combinations([a1, b2, c2], values)
    got = [(c[a1], c[b2], c[c2]) for c in combos]
    # A varies fastest; its duplicate 3.3.3.3 is skipped; (B, C) pairs walk in parallel
    assert got[:4] == [
        ("1.1.1.1", "80", "1080"),
        ("2.2.2.2", "80", "1080"),
        ("3.3.3.3", "80", "1080"),
        ("1.1.1.1", "90", "1090"),
    ]
    assert len(got) == 3 * 4


def test_element_access_and_missing_elements() -> None:
    values = {"A": ("x", "y")}
    assert combinations([VarRef("A", index=1)], values) == [{VarRef("A", index=1): "y"}]
    with pytest.raises(MissingVariables) as e:
        combinations([VarRef("A", index=2), VarRef("B")], values)
    assert e.value.missing == ["A[2]", "B"]
    assert "unresolvable variables or unavailable list elements: A[2], B" in str(e.value)


def test_parallel_lists_need_equal_cardinality() -> None:
    with pytest.raises(InstantiationError, match="Cardinality of list items must be the same"):
        combinations([VarRef("A"), VarRef("B")], {"A": ("1", "2"), "B": ("1",)})


def test_binding_values_win_over_inner_filterref_parameters() -> None:
    defs = filters(
        "<filter name='child'><rule action='drop' direction='out' priority='500'><ip srcipaddr='$X'/></rule></filter>",
        "<filter name='top'><filterref filter='child'><parameter name='X' value='10.0.0.1'/></filterref></filter>",
    )
    inner = chain(program("top", defs), Stage.L2_OUT).entries[0]
    assert isinstance(inner, ProgramRule)
    # a tree constant: expanded into the rule itself
    assert [
        c.operand for c in inner.checks if c.operand == Value(__import__("ipaddress").IPv4Address("10.0.0.1"))
    ]
    outer = chain(program("top", defs, {"X": ("10.0.0.2", "10.0.0.3")}), Stage.L2_OUT).entries[0]
    assert isinstance(outer, ProgramRule)
    # a binding value: a per-port hole, one row per value
    assert [c.hole for c in outer.checks if c.is_hole] == [HoleShape(Shape.VALUE, ("$X",))]
    assert len(outer.rows) == 2


def test_mac_comes_from_the_binding() -> None:
    prog = program("no-mac-spoofing", filters())
    rule = chain(prog, Stage.L2_OUT, "mac").entries[0]
    assert isinstance(rule, ProgramRule)
    assert rule.rows == ((Value(MAC),),)


def test_missing_ip_names_the_variable_and_filter() -> None:
    with pytest.raises(MissingVariables) as e:
        program("clean-traffic", filters())
    assert e.value.missing == ["IP"]
    assert "filter clean-traffic" in str(e.value)


def test_ip_left_out_when_others_are_missing_too() -> None:
    defs = filters(
        "<filter name='t'><rule action='drop' direction='out' priority='500'><ip srcipaddr='$IP' dstipaddr='$OTHER'/></rule></filter>"
    )
    with pytest.raises(MissingVariables) as e:
        program("t", defs)
    assert e.value.missing == ["OTHER"]


def test_learned_ip_is_used_and_parameters_override_it() -> None:
    rule = chain(
        program("no-ip-spoofing", filters(), learned=("10.0.0.7",)), Stage.L2_OUT, "ipv4-ip"
    ).entries[1]
    assert isinstance(rule, ProgramRule)
    assert [str(row[0].value) for row in rule.rows] == ["10.0.0.7"]  # type: ignore[union-attr]
    rule = chain(
        program("no-ip-spoofing", filters(), {"IP": ("10.0.0.8",)}, learned=("10.0.0.7",)),
        Stage.L2_OUT,
        "ipv4-ip",
    ).entries[1]
    assert [str(row[0].value) for row in rule.rows] == ["10.0.0.8"]  # type: ignore[union-attr]


def test_bad_variable_value_is_an_error_naming_it() -> None:
    with pytest.raises(InstantiationError, match=r"\$IP = 'not-an-ip'"):
        program("no-ip-spoofing", filters(), {"IP": ("not-an-ip",)})


def test_undefined_filter_reference() -> None:
    defs = filters("<filter name='t'><filterref filter='nope'/></filter>")
    with pytest.raises(InstantiationError, match="referenced filter 'nope' is missing"):
        program("t", defs)
