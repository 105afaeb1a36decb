"""Parsing one ``<rule>``: action, direction, priority, statematch and its protocol element(s), then
libvirt's fixups (negation copies, the ipset flags default). Driven by the ``schema`` table.
"""

from __future__ import annotations

from lxml import etree

from guestwall.errors import FilterError, Where
from guestwall.model.filter import Action, AttrValue, DataType, Direction, Match, Rule
from guestwall.nwfilter.cnumbers import str_to_int
from guestwall.nwfilter.safexml import elements, local_name, prop
from guestwall.nwfilter.schema import PROTOCOLS, ProtocolSpec
from guestwall.nwfilter.values import parse_attr_value

DEFAULT_RULE_PRIORITY = 500
MIN_RULE_PRIORITY = -1000
MAX_RULE_PRIORITY = 1000
UNSUPPORTED = "unsupported configuration"

PORT_ATTRS = ("srcportstart", "srcportend", "dstportstart", "dstportend")
PORT_PROTOCOLS = frozenset({6, 17, 33, 132})  # tcp, udp, dccp, sctp

Attrs = dict[str, AttrValue]


def rule_priority(text: str | None) -> int:
    """libvirt 9.0: a priority that is not a decimal int in [-1000,1000] silently becomes 500."""
    if text is None:
        return DEFAULT_RULE_PRIORITY
    value = str_to_int(text)
    if value is None or not MIN_RULE_PRIORITY <= value <= MAX_RULE_PRIORITY:
        return DEFAULT_RULE_PRIORITY
    return value


def parse_rule(node: etree._Element, number: int) -> Rule:
    where = Where(rule=number)
    action_text = prop(node, "action")
    if action_text is None:
        raise FilterError("rule node requires action attribute", where)
    if action_text not in Action._value2member_map_:
        raise FilterError("unknown rule action attribute value", where, code=UNSUPPORTED)
    direction_text = prop(node, "direction")
    if direction_text is None:
        raise FilterError("rule node requires direction attribute", where)
    if direction_text not in Direction._value2member_map_:
        raise FilterError("unknown rule direction attribute value", where, code=UNSUPPORTED)
    statematch = prop(node, "statematch")
    return Rule(
        action=Action(action_text),
        direction=Direction(direction_text),
        priority=rule_priority(prop(node, "priority")),
        statematch=not (statematch is not None and (statematch == "0" or statematch.lower() == "false")),
        match=_parse_match(node, number),
    )


def _parse_match(node: etree._Element, number: int) -> Match | None:
    """The first child naming a protocol fixes it; every child of that name adds to (overrides) the
    attributes, each with its own ``match='no'``; other children are ignored."""
    spec: ProtocolSpec | None = None
    attrs: Attrs = {}
    for child in elements(node):
        name = local_name(child)
        if spec is None and name is not None:
            spec = PROTOCOLS.get(name)
        if spec is None or name != spec.element:
            continue
        _parse_element(spec, child, attrs, number)
        # libvirt checks after every element, so ports before the protocol fail even if it comes later.
        check_ports(spec, attrs, number)
    if spec is None:
        return None
    fixed = apply_fixups(spec, attrs)
    return Match(spec.element, tuple((a.name, fixed[a.name]) for a in spec.attrs if a.name in fixed))


def _parse_element(spec: ProtocolSpec, node: etree._Element, attrs: Attrs, number: int) -> None:
    """All attributes of one element, in table order. libvirt goes on after an illegal value and reports
    the last one (each error replaces the one before), so the error raised is the last in table order."""
    negated = prop(node, "match") == "no"
    error: FilterError | None = None
    for attr in spec.attrs:
        text = prop(node, attr.name)
        if text is None:
            continue
        where = Where(rule=number, element=spec.element, attribute=attr.name)
        try:
            value = parse_attr_value(attr, text, where=where)
        except FilterError as e:
            error = e
            continue
        attrs[attr.name] = AttrValue(value.value, value.datatype, negated)
    if error is not None:
        raise error


def check_ports(spec: ProtocolSpec, attrs: Attrs, number: int) -> None:
    """``ip``/``ipv6`` rules with ports need protocol tcp, udp, dccp or sctp (a variable does not do)."""
    if spec.element not in ("ip", "ipv6") or not any(p in attrs for p in PORT_ATTRS):
        return
    protocol = attrs.get("protocol")
    if protocol is not None and not protocol.is_var and protocol.value in PORT_PROTOCOLS:
        return
    label = "IP" if spec.element == "ip" else "IPv6"
    raise FilterError(
        f"{label} rule with port specification requires protocol specification with protocol to be "
        "either one of tcp(6), udp(17), dccp(33), or sctp(132)",
        Where(rule=number, element=spec.element),
    )


def apply_fixups(spec: ProtocolSpec, attrs: Attrs) -> Attrs:
    """Masks, range ends (and for tcp/udp/sctp the dst ports) take the negation of their base attribute;
    a missing base means not negated. ipset without ipsetflags gets ``src``; ipsetflags without ipset is
    dropped. Unlike libvirt, ipset together with ipsetflags is kept (libvirt clears both: a bug)."""
    fixed = dict(attrs)
    for attr in spec.attrs:
        if attr.negation_source is None or attr.name not in fixed:
            continue
        base = fixed.get(attr.negation_source)
        value = fixed[attr.name]
        fixed[attr.name] = AttrValue(value.value, value.datatype, base.negated if base else False)
    if spec.ipset_fixup:
        if "ipset" in fixed and "ipsetflags" not in fixed:
            fixed["ipsetflags"] = AttrValue(("src",), DataType.IPSETFLAGS)
        elif "ipset" not in fixed:
            fixed.pop("ipsetflags", None)
    return fixed
