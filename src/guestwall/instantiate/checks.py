"""Turn one rule's protocol attributes (with one combination of variable values) into typed checks.

Driven by the composites table in fields.py; values of variables are typed with the language's own
datatype rules (``nwfilter.typed_value``), so a bad value is an error that names variable and attribute.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from guestwall.errors import GuestwallError, InstantiationError
from guestwall.instantiate.fields import COMPOSITES, Composite, Field, Shape
from guestwall.instantiate.program import (
    Check,
    Flags,
    HoleShape,
    IPSetRef,
    Operand,
    Prefix,
    Range,
    States,
    Value,
    hole_shape,
)
from guestwall.model import AttrValue, MacAddress, Match, Scalar, TcpFlags, VarRef


@dataclass(frozen=True)
class Recipe:
    """How one port's values become a rule's rows: the variables to combine and the composites they fill.

    ``constants`` are values that come from the filter tree rather than the binding (the same for every
    port of a group); ``swap_ipset`` reverses ipset flags for rules applied in the reverse direction.
    """

    protocol: str
    match: Match
    refs: tuple[VarRef, ...]
    holes: tuple[Composite, ...]
    constants: tuple[tuple[str, tuple[str, ...]], ...] = ()
    swap_ipset: bool = False

    def without(self, field: Field) -> Recipe:
        holes = tuple(h for h in self.holes if h.field is not field)
        return Recipe(self.protocol, self.match, self.refs, holes, self.constants, self.swap_ipset)

    def reversed(self) -> Recipe:
        return Recipe(self.protocol, self.match, self.refs, self.holes, self.constants, not self.swap_ipset)


@dataclass(frozen=True)
class Built:
    """The checks of one rule; for holes, the recipe that gives each port its rows."""

    checks: tuple[Check, ...]
    recipe: Recipe | None
    comment: str | None


@lru_cache(maxsize=1024)
def _attr_kind(protocol: str, attr: str) -> tuple[object, ...]:
    """What decides how an attribute parses, without its name: attributes of the same kind parse alike."""
    from guestwall.nwfilter.schema import PROTOCOLS

    spec = PROTOCOLS[protocol].attr(attr)
    assert spec is not None
    return (spec.datatypes, spec.low, spec.high, spec.names, spec.max_bytes)


@lru_cache(maxsize=65536)
def _typed_kind(kind: tuple[object, ...], protocol: str, attr: str, text: str) -> Scalar:
    from guestwall.nwfilter import typed_value  # the language's own datatype rules

    value = typed_value(protocol, attr, text).value
    assert not isinstance(value, VarRef)  # typed_value does not allow variables
    return value


_seen: dict[tuple[tuple[object, ...], str], Scalar] = {}


def _typed(protocol: str, attr: str, text: str) -> Scalar:
    """A variable's value typed for an attribute; cached by kind so a MAC used in five attributes of five
    rules is parsed once per port."""
    kind = _attr_kind(protocol, attr)
    hit = _seen.get((kind, text))
    if hit is None:
        hit = _typed_kind(kind, protocol, attr, text)
        if len(_seen) > 100_000:
            _seen.clear()
        _seen[(kind, text)] = hit
    return hit


def _resolve(protocol: str, attr: str, value: AttrValue, combo: Mapping[VarRef, str]) -> Scalar:
    if not isinstance(value.value, VarRef):
        return value.value
    text = combo[value.value]
    try:
        return _typed(protocol, attr, text)
    except GuestwallError as e:
        raise InstantiationError(f"variable {value.value} = '{text}' is not valid for {attr}: {e}") from e


def _operand(comp: Composite, base: Scalar, extra: Scalar | None) -> Operand | None:
    if comp.shape is Shape.IPSET:
        if extra is None:
            return None  # libvirt matches an ipset only together with its flags
        assert isinstance(base, str) and isinstance(extra, tuple)
        return IPSetRef(base, extra)
    if comp.field is Field.CT_STATE:
        assert isinstance(base, tuple)
        if base == ("NONE",) or not base:
            return None  # NONE only restricts the rule to its own direction
        return States(tuple(name.lower() for name in base))
    if comp.field is Field.TCP_FLAGS:
        assert isinstance(base, TcpFlags)
        return Flags(base.mask, base.set)
    assert not isinstance(base, tuple | TcpFlags)
    if extra is None:
        return Value(base)
    assert not isinstance(extra, tuple | TcpFlags | bool)
    if comp.shape is Shape.MASKED:
        length = _mask_length(extra) if isinstance(extra, MacAddress) else int(extra)
        return Prefix(base, length)
    assert not isinstance(base, bool)
    if type(base) is not type(extra):
        # libvirt types dstipto as IPv4 even in IPv6 elements: such a range has no meaning
        raise InstantiationError(
            f"{comp.base}..{comp.extra} range {base}-{extra} cannot be enforced: ends of different types"
        )
    return Range(base, extra)


def _mask_length(mask: MacAddress) -> int:
    length = mask.prefix_length
    assert length is not None  # the MACMASK datatype accepts only contiguous masks
    return length


def _constant_text(value: Scalar) -> str:
    """A constant as a hole shape names it. MACs keep the quoted text they had when they were strings, so
    the kernel set names derived from shapes stay the same."""
    return repr(str(value)) if isinstance(value, MacAddress) else repr(value)


def _shape(
    comp: Composite, match: Match, top: frozenset[str], values: Mapping[str, tuple[str, ...]]
) -> HoleShape:
    parts = []
    for attr in comp.attrs:
        v = match.get(attr)
        if v is None:
            continue
        if isinstance(v.value, VarRef):
            text = str(v.value)
            if v.value.name not in top:  # a tree constant mixed into a per-port rule: its values matter
                text += "=" + ",".join(values.get(v.value.name, ()))
        else:
            text = _constant_text(v.value)
        parts.append(text)
    return hole_shape(comp.shape, tuple(parts))


def _operand_for(protocol: str, match: Match, comp: Composite, combo: Mapping[VarRef, str]) -> Operand | None:
    base_v = match.get(comp.base)
    assert base_v is not None
    base = _resolve(protocol, comp.base, base_v, combo)
    extra_v = match.get(comp.extra) if comp.extra else None
    extra = _resolve(protocol, comp.extra, extra_v, combo) if extra_v is not None and comp.extra else None
    return _operand(comp, base, extra)


def _is_var(match: Match, comp: Composite) -> bool:
    return any((v := match.get(a)) is not None and v.is_var for a in comp.attrs)


def build_checks(
    match: Match | None,
    combos: list[dict[VarRef, str]],
    top: frozenset[str],
    values: Mapping[str, tuple[str, ...]],
    holes_allowed: bool,
) -> list[Built]:
    """Checks for a rule. With ``holes_allowed`` one Built whose variable checks are holes (filled per port
    by its recipe); otherwise one Built per combination, all constant (libvirt's expansion into
    consecutive rules)."""
    if match is None:
        return [Built((), None, None)]
    comment_value = match.get("comment")
    comment = None if comment_value is None or comment_value.is_var else str(comment_value.value)
    protocol = match.protocol
    # an ipset without flags matches nothing in libvirt: it is not a test at all
    present = [
        c
        for c in COMPOSITES[protocol]
        if c.base in match and (c.shape is not Shape.IPSET or c.extra in match)
    ]
    if holes_allowed:
        checks: list[Check] = []
        holes: list[Composite] = []
        for comp in present:
            negated = _negated(match, comp)
            if _is_var(match, comp):
                holes.append(comp)
                checks.append(Check(comp.field, None, negated, _shape(comp, match, top, values)))
            elif (op := _operand_for(protocol, match, comp, {})) is not None:
                checks.append(Check(comp.field, op, negated))
        refs = tuple(dict.fromkeys(v.value for _, v in match.attrs if isinstance(v.value, VarRef)))
        constants = tuple((n, tuple(values[n])) for n in sorted({r.name for r in refs} - top) if n in values)
        return [Built(tuple(checks), Recipe(protocol, match, refs, tuple(holes), constants), comment)]
    out = []
    for combo in combos:
        checks = []
        for comp in present:
            if (op := _operand_for(protocol, match, comp, combo)) is not None:
                checks.append(Check(comp.field, op, _negated(match, comp)))
        out.append(Built(tuple(checks), None, comment))
    return out


def _negated(match: Match, comp: Composite) -> bool:
    """Whether ``match='no'`` negates this test. Not the conntrack state: libvirt 9.0 negates addresses and
    ports but hands the kernel ``--ctstate`` as given (tests/golden/libvirt/rules/negated-state)."""
    if comp.field is Field.CT_STATE:
        return False
    return match.get(comp.base).negated  # type: ignore[union-attr]


def rows_for(recipe: Recipe, values: Mapping[str, tuple[str, ...]]) -> tuple[tuple[Operand, ...], ...]:
    """One port's rows for a hole rule: its values combined as libvirt iterates them, without repeats."""
    from guestwall.instantiate.variables import combinations

    merged = dict(recipe.constants)
    merged.update(values)
    rows: dict[tuple[Operand, ...], None] = {}
    for combo in combinations(list(recipe.refs), merged):
        row = []
        for comp in recipe.holes:
            op = _operand_for(recipe.protocol, recipe.match, comp, combo)
            if op is None:
                raise InstantiationError(f"variable value leaves {comp.base} without a test")
            if recipe.swap_ipset and isinstance(op, IPSetRef):
                op = IPSetRef(op.name, tuple({"src": "dst", "dst": "src"}[f] for f in op.flags))
            row.append(op)
        rows[tuple(row)] = None
    return tuple(rows)
