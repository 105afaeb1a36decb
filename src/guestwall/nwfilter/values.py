"""One attribute value of one protocol element: try the attribute's datatypes in order, as libvirt does.

Used by the XML parser for every attribute and by instantiation (``typed_value``) for variable values.
"""

from __future__ import annotations

from guestwall.errors import FilterError, Where
from guestwall.model.filter import AttrValue, DataType
from guestwall.nwfilter.datatypes import parse_datatype, parse_varref
from guestwall.nwfilter.schema import PROTOCOLS, AttrSpec


def illegal(attr: str, text: str, where: Where | None = None) -> FilterError:
    return FilterError(f"{attr} has illegal value {text}", where)


def in_bounds(attr: AttrSpec, dt: DataType, value: object) -> bool:
    """libvirt's per-attribute validators for numbers (protocolid >= 0x600, vlanid <= 4095, dscp <= 63, ...).

    Names of a value set are always valid; only numbers given as numbers are checked.
    """
    if dt is DataType.STRING or not isinstance(value, int) or isinstance(value, bool):
        return True
    if attr.low is not None and value < attr.low:
        return False
    return not (attr.high is not None and value > attr.high)


def parse_attr_value(
    attr: AttrSpec, text: str, *, allow_var: bool = True, where: Where | None = None
) -> AttrValue:
    """The typed value of ``text`` for ``attr`` (not negated), or FilterError "<attr> has illegal value <v>".

    A value starting with ``$`` is a variable reference for every attribute. Otherwise the datatypes are
    tried in order; the first that parses decides, and if its bounds check fails the value is illegal
    (libvirt does not go on to the next datatype then).
    """
    if text.startswith("$"):
        ref = parse_varref(text) if allow_var else None
        if ref is None:
            raise illegal(attr.name, text, where)
        return AttrValue(ref, DataType.VARIABLE)
    for dt in attr.datatypes:
        value = parse_datatype(dt, text, attr)
        if value is None:
            continue
        if not in_bounds(attr, dt, value):
            break
        return AttrValue(value, dt)
    raise illegal(attr.name, text, where)


def typed_value(protocol: str, attr: str, text: str) -> AttrValue:
    """Parse one string value for attribute ``attr`` of element ``protocol`` with the XML parser's datatype
    rules. Variables are not allowed. Raises FilterError naming attribute and value if it is illegal."""
    spec = PROTOCOLS.get(protocol)
    if spec is None:
        raise FilterError(f"unknown protocol element '{protocol}'")
    attr_spec = spec.attr(attr)
    if attr_spec is None:
        raise FilterError(f"element {protocol} has no attribute '{attr}'")
    try:
        return parse_attr_value(attr_spec, text, allow_var=False)
    except FilterError:  # say where only when it failed: instantiation calls this for every value
        raise illegal(attr, text, Where(element=protocol, attribute=attr)) from None
