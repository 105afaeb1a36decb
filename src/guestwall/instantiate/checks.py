"""Turn one rule's protocol attributes (with one combination of variable values) into typed checks.

Driven by the composites table in fields.py; values of variables are typed with the language's own
datatype rules (``nwfilter.typed_value``), so a bad value is an error that names variable and attribute.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache

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

    @cached_property
    def sources(self) -> tuple[Source, ...]:
        """Where each hole's operand comes from, looked up once per recipe rather than once per port."""
        return tuple(_source(self.protocol, self.match, comp) for comp in self.holes)

    def without(self, field: Field) -> Recipe:
        holes = tuple(h for h in self.holes if h.field is not field)
        return Recipe(self.protocol, self.match, self.refs, holes, self.constants, self.swap_ipset)

    def reversed(self) -> Recipe:
        return Recipe(self.protocol, self.match, self.refs, self.holes, self.constants, not self.swap_ipset)


@dataclass(frozen=True)
class Source:
    """One hole of a recipe: its composite, and the attribute values (with their kinds) of its base and of
    its optional second attribute (mask, range end, ipset flags)."""

    comp: Composite
    base: AttrValue
    base_kind: int
    extra: AttrValue | None
    extra_kind: int
    plain: bool  # alone, its value is the operand (not an ipset, state or flags test)


def _source(protocol: str, match: Match, comp: Composite) -> Source:
    base = match.get(comp.base)
    assert base is not None
    extra = match.get(comp.extra) if comp.extra else None
    extra_kind = _attr_kind(protocol, comp.extra) if extra is not None and comp.extra else -1
    plain = comp.shape is not Shape.IPSET and comp.field not in (Field.CT_STATE, Field.TCP_FLAGS)
    return Source(comp, base, _attr_kind(protocol, comp.base), extra, extra_kind, plain)


@dataclass(frozen=True)
class Built:
    """The checks of one rule; for holes, the recipe that gives each port its rows."""

    checks: tuple[Check, ...]
    recipe: Recipe | None
    comment: str | None


_KINDS: dict[tuple[object, ...], int] = {}
_KINDS_LOCK = threading.Lock()  # two threads numbering two new kinds must not give both the same number


@lru_cache(maxsize=1024)
def _attr_kind(protocol: str, attr: str) -> int:
    """What decides how an attribute parses, without its name, as a small number: attributes of the same
    kind parse alike."""
    from guestwall.nwfilter.schema import PROTOCOLS

    spec = PROTOCOLS[protocol].attr(attr)
    assert spec is not None
    kind = (spec.datatypes, spec.low, spec.high, spec.names, spec.max_bytes)
    with _KINDS_LOCK:
        return _KINDS.setdefault(kind, len(_KINDS))


_seen: dict[tuple[int, str], Scalar] = {}


def _typed(kind: int, protocol: str, attr: str, text: str) -> Scalar:
    """A variable's value typed for an attribute of ``kind``; remembered by kind so a MAC used in five
    attributes of five rules is parsed once per port."""
    hit = _seen.get((kind, text))
    if hit is not None:
        return hit
    from guestwall.nwfilter import typed_value  # the language's own datatype rules

    value = typed_value(protocol, attr, text).value
    assert not isinstance(value, VarRef)  # typed_value does not allow variables
    if len(_seen) > 100_000:
        _seen.clear()
    _seen[(kind, text)] = value
    return value


def _typed_var(kind: int, protocol: str, attr: str, ref: VarRef, combo: Mapping[VarRef, str]) -> Scalar:
    text = combo[ref]
    try:
        return _typed(kind, protocol, attr, text)
    except GuestwallError as e:
        raise InstantiationError(f"variable {ref} = '{text}' is not valid for {attr}: {e}") from e


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
    return _operand_of(protocol, _source(protocol, match, comp), combo)


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

    merged: Mapping[str, tuple[str, ...]] = values
    if recipe.constants:
        merged = dict(recipe.constants)
        merged.update(values)
    one = _one_combination(recipe.refs, merged)
    if one is not None:
        return (_row(recipe, one),)
    return tuple(dict.fromkeys(_row(recipe, combo) for combo in combinations(list(recipe.refs), merged)))


def _one_combination(
    refs: tuple[VarRef, ...], values: Mapping[str, tuple[str, ...]]
) -> dict[VarRef, str] | None:
    """The only combination of ``refs`` when each names one value of a variable (nearly every port); None
    when not (``variables.combinations`` then iterates, or says what is missing)."""
    combo: dict[VarRef, str] = {}
    for ref in refs:
        given = values.get(ref.name)
        if given is None or len(given) != 1 or ref.index is not None:
            return None
        combo[ref] = given[0]
    return combo


def _row(recipe: Recipe, combo: Mapping[VarRef, str]) -> tuple[Operand, ...]:
    row = []
    for source in recipe.sources:
        op = _operand_of(recipe.protocol, source, combo)
        if op is None:
            raise InstantiationError(f"variable value leaves {source.comp.base} without a test")
        if recipe.swap_ipset and isinstance(op, IPSetRef):
            op = IPSetRef(op.name, tuple({"src": "dst", "dst": "src"}[f] for f in op.flags))
        row.append(op)
    return tuple(row)


def _operand_of(protocol: str, source: Source, combo: Mapping[VarRef, str]) -> Operand | None:
    comp, base_v, extra_v = source.comp, source.base, source.extra
    base = base_v.value
    if isinstance(base, VarRef):
        base = _typed_var(source.base_kind, protocol, comp.base, base, combo)
    if extra_v is None:
        if not source.plain:
            return _operand(comp, base, None)
        assert not isinstance(base, tuple | TcpFlags)
        return Value(base)
    assert comp.extra is not None
    extra = extra_v.value
    if isinstance(extra, VarRef):
        extra = _typed_var(source.extra_kind, protocol, comp.extra, extra, combo)
    return _operand(comp, base, extra)
