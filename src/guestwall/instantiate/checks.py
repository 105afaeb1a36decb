"""Turn one rule's protocol attributes (with one combination of variable values) into typed checks.

Driven by the composites table in fields.py; values of variables are typed with the language's own
datatype rules (``nwfilter.typed_value``), so a bad value is an error that names variable and attribute.
"""

from __future__ import annotations

from dataclasses import dataclass

from guestwall.errors import GuestwallError, InstantiationError
from guestwall.instantiate.fields import COMPOSITES, Composite, Field, Shape
from guestwall.instantiate.program import Check, Flags, IPSetRef, Operand, Prefix, Range, States, Value
from guestwall.model import AttrValue, Match, Scalar, TcpFlags, VarRef


@dataclass(frozen=True)
class Built:
    """The checks of one rule: constant ones, and for holes the template and the operand per combination."""

    checks: tuple[Check, ...]
    rows: tuple[tuple[Operand, ...], ...]
    comment: str | None


def mac_prefix_len(mask: str) -> int:
    bits = int(mask.replace(":", ""), 16)
    return bin(bits).count("1")


def _resolve(protocol: str, attr: str, value: AttrValue, combo: dict[VarRef, str]) -> Scalar:
    if not isinstance(value.value, VarRef):
        return value.value
    from guestwall.nwfilter import typed_value  # the language's own datatype rules

    text = combo[value.value]
    try:
        return typed_value(protocol, attr, text).value
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
        length = mac_prefix_len(extra) if isinstance(extra, str) else int(extra)
        return Prefix(base, length)
    assert not isinstance(base, bool)
    return Range(base, extra)


def _template(comp: Composite, match: Match, top: frozenset[str], values: dict[str, tuple[str, ...]]) -> str:
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
            text = repr(v.value)
        parts.append(text)
    if len(parts) == 1:  # an address without mask is an exact value, whatever attribute it came from
        return f"value1:{parts[0]}"
    sep = "/" if comp.shape is Shape.MASKED else "-"
    return f"{comp.shape.value}{len(parts)}:{sep.join(parts)}"


def template_is_interval(template: str) -> bool:
    """Whether a hole's values are prefixes or ranges (an address with a mask, a start with an end)."""
    return template.startswith(("masked2:", "range2:"))


def build_checks(
    match: Match | None,
    combos: list[dict[VarRef, str]],
    top: frozenset[str],
    values: dict[str, tuple[str, ...]],
    holes_allowed: bool,
) -> list[Built]:
    """Checks for a rule. With ``holes_allowed`` one Built whose variable checks are holes; otherwise one
    Built per combination, all constant (libvirt's expansion into consecutive rules)."""
    if match is None:
        return [Built((), (), None)]
    comment_value = match.get("comment")
    comment = None
    if comment_value is not None and not comment_value.is_var:
        comment = str(comment_value.value)
    present = [c for c in COMPOSITES[match.protocol] if c.base in match]

    def is_var(comp: Composite) -> bool:
        return any(match.get(a) is not None and match.get(a).is_var for a in comp.attrs)  # type: ignore[union-attr]

    def operand_for(comp: Composite, combo: dict[VarRef, str]) -> Operand | None:
        base_v = match.get(comp.base)
        assert base_v is not None
        base = _resolve(match.protocol, comp.base, base_v, combo)
        extra_v = match.get(comp.extra) if comp.extra else None
        extra = _resolve(match.protocol, comp.extra, extra_v, combo) if extra_v and comp.extra else None
        return _operand(comp, base, extra)

    if holes_allowed:
        checks: list[Check] = []
        hole_comps: list[Composite] = []
        for comp in present:
            negated = match.get(comp.base).negated  # type: ignore[union-attr]
            if is_var(comp):
                hole_comps.append(comp)
                checks.append(Check(comp.field, None, negated, _template(comp, match, top, values)))
            else:
                op = operand_for(comp, {})
                if op is not None:
                    checks.append(Check(comp.field, op, negated))
        rows: list[tuple[Operand, ...]] = []
        for combo in combos:
            row = []
            for comp in hole_comps:
                op = operand_for(comp, combo)
                if op is None:
                    raise InstantiationError(f"variable value leaves {comp.base} without a test")
                row.append(op)
            if tuple(row) not in rows:
                rows.append(tuple(row))
        return [Built(tuple(checks), tuple(rows), comment)]
    out = []
    for combo in combos:
        checks = []
        for comp in present:
            op = operand_for(comp, combo)
            if op is not None:
                checks.append(Check(comp.field, op, match.get(comp.base).negated))  # type: ignore[union-attr]
        out.append(Built(tuple(checks), (), comment))
    return out
