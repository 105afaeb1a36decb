"""The checks of libvirt's nwfilter schema (``nwfilter-define --validate``) in Python, run before parsing
when ``parse_filter(validate=True)``; the ``rng`` column of the ``schema`` table picks each value type.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from lxml import etree

from guestwall.errors import FilterError, Where
from guestwall.nwfilter.safexml import elements
from guestwall.nwfilter.schema import PROTOCOLS, ProtocolSpec

SCHEMA = "XML document failed to validate against schema"

_VAR = r"\$ *[a-zA-Z0-9_]+(\[ *@?[0-9]+ *\])? *"
_MAC = r"([a-fA-F0-9]{1,2}:){5}[a-fA-F0-9]{1,2}"  # the schema's macAddr (values: model.mac)
_IPV4 = r"([0-2]?[0-9]?[0-9]\.){3}[0-2]?[0-9]?[0-9]"
_IPV6 = r"([a-fA-F0-9]{0,4}:){2,7}[a-fA-F0-9]*"
_TCP_FLAG_LIST = r"((SYN|ACK|URG|PSH|FIN|RST)(,(SYN|ACK|URG|PSH|FIN|RST))*|ALL|NONE)"
_STATE = r"NEW|ESTABLISHED|RELATED|INVALID"
_OPCODE = (
    r"[Rr]eply|[Rr]equest|[Rr]equest_[Rr]everse|[Rr]eply_[Rr]everse|DRARP_[Rr]equest|DRARP_[Rr]eply"
    r"|DRARP_[Ee]rror|InARP_[Rr]equest|ARP_NAK"
)
_XML_SPACE = " \t\r\n"
_NCNAME = re.compile(r"[^\W\d][\w.\-\u00b7]*")


def _xsd_int(low: int, high: int) -> Callable[[str], bool]:
    """An XML Schema integer (surrounding blanks allowed) within bounds."""

    def check(text: str) -> bool:
        value = text.strip(_XML_SPACE)
        return re.fullmatch(r"[+-]?[0-9]+", value) is not None and low <= int(value) <= high

    return check


def _xsd_unsigned(high: int) -> Callable[[str], bool]:
    """An XML Schema unsignedInt: digits only (libxml2 refuses a sign, even ``+``), blanks around allowed."""

    def check(text: str) -> bool:
        value = text.strip(_XML_SPACE)
        return re.fullmatch(r"[0-9]+", value) is not None and int(value) <= high

    return check


def _pattern(regex: str) -> Callable[[str], bool]:
    compiled = re.compile(regex)
    return lambda text: compiled.fullmatch(text) is not None


def _tokens(*values: str) -> Callable[[str], bool]:
    return lambda text: " ".join(text.split()) in values


def _any_of(*checks: Callable[[str], bool]) -> Callable[[str], bool]:
    return lambda text: any(check(text) for check in checks)


_var = _pattern(_VAR)

VALUE_TYPES: dict[str, Callable[[str], bool]] = {
    "mac": _any_of(_var, _pattern(_MAC)),
    "ipv4": _any_of(_var, _pattern(_IPV4)),
    "ipv6": _any_of(_var, _pattern(f"{_IPV6}({_IPV4})?")),
    "ipv4mask": _any_of(_var, _xsd_int(0, 32), _pattern(_IPV4)),
    "ipv6mask": _any_of(_var, _xsd_int(0, 128), _pattern(_IPV6)),
    "uint6": _any_of(_pattern(r"0x([0-3][0-9a-fA-F]|[0-9a-fA-F])"), _var, _xsd_int(0, 63)),
    "ethertype": _any_of(
        _var,
        _pattern(r"0x([6-9a-fA-F][0-9a-fA-F]{2}|[0-9a-fA-F]{4})"),
        _xsd_int(1536, 65535),
        _tokens("arp", "rarp", "ipv4", "ipv6", "vlan"),
    ),
    "vlanid": _any_of(_var, _pattern(r"0x[0-9a-fA-F]{1,3}"), _xsd_int(0, 4095)),
    "uint8": _any_of(_pattern(r"0x[0-9a-fA-F]{1,2}"), _xsd_int(0, 255)),
    "uint16": _any_of(_var, _pattern(r"0x[0-9a-fA-F]{1,4}"), _xsd_int(0, 65535)),
    "uint32": _any_of(_var, _pattern(r"0x[0-9a-fA-F]{1,8}"), _xsd_unsigned(2**32 - 1)),
    "boolean": _tokens("yes", "no", "true", "false", "1", "0"),
    "arp-opcode": _any_of(_var, _xsd_int(0, 65535), _pattern(f"({_OPCODE})")),
    "ip-protocol": _any_of(
        _var,
        _pattern(r"0x[0-9a-fA-F]{1,2}"),
        _xsd_int(0, 255),
        _tokens("tcp", "udp", "udplite", "esp", "ah", "icmp", "igmp", "sctp", "icmpv6"),
    ),
    "comment": lambda text: True,
    "ct-state": _pattern(f"(({_STATE})(,({_STATE}))*|NONE)"),
    "tcp-flags": _pattern(f"{_TCP_FLAG_LIST}/{_TCP_FLAG_LIST}"),
    "ipset-name": _any_of(_var, _pattern(r"[a-zA-Z0-9_.:+ \-]{1,31}")),
    "ipset-flags": _pattern(r"([Ss][Rr][Cc]|[Dd][Ss][Tt])(,([Ss][Rr][Cc]|[Dd][Ss][Tt])){0,5}"),
}

# root, or a prefix followed by up to 12 characters in all.
_CHAIN = _any_of(
    _tokens("root"),
    *(
        _pattern(f"{prefix}[a-zA-Z0-9_.:\\-]{{0,{12 - len(prefix)}}}")
        for prefix in ("mac", "stp", "vlan", "arp", "rarp", "ipv4", "ipv6")
    ),
)
_PRIORITY = _xsd_int(-1000, 1000)
_UUID = _pattern(r"[a-fA-F0-9]{32}|[a-fA-F0-9]{8}-([a-fA-F0-9]{4}-){3}[a-fA-F0-9]{12}")
_PARAM_NAME = _pattern(r"[a-zA-Z0-9_]+")
_PARAM_VALUE = _pattern(r"[a-zA-Z0-9_.:]+")
_RULE_ATTRS: dict[str, Callable[[str], bool]] = {
    "action": _tokens("drop", "accept", "reject", "continue", "return"),
    "direction": _tokens("in", "out", "inout"),
    "priority": _PRIORITY,
    "statematch": _pattern(r"[Ff][Aa][Ll][Ss][Ee]|0"),
}


def _fail(message: str, where: Where | None = None) -> FilterError:
    return FilterError(message, where, code=SCHEMA)


def _check_attrs(
    node: etree._Element,
    name: str,
    allowed: dict[str, Callable[[str], bool]],
    required: tuple[str, ...],
    where: Where,
) -> None:
    for raw_key, raw_value in node.attrib.items():
        key, value = str(raw_key), str(raw_value)
        check = allowed.get(key)
        if check is None:
            raise _fail(f"Invalid attribute {key} for element {name}", where)
        if not check(value):
            raise _fail(f"Invalid attribute {key} for element {name}: value '{value}' is not allowed", where)
    for key in required:
        if key not in node.attrib:
            raise _fail(f"Element {name} lacks attribute {key}", where)


def _check_no_text(node: etree._Element, name: str, where: Where, allow_children: bool = True) -> None:
    texts = [node.text, *(child.tail for child in node)]
    if any(t and t.strip(_XML_SPACE) for t in texts):
        raise _fail(f"Element {name} has extra content: text", where)
    if not allow_children and elements(node):
        raise _fail(f"Element {name} has extra content: {elements(node)[0].tag}", where)


def _ncname(value: str) -> bool:
    return _NCNAME.fullmatch(value) is not None


def validate_filter(root: etree._Element) -> None:
    """Raise FilterError (code "XML document failed to validate against schema") if the schema rejects it."""
    if root.tag != "filter":
        raise _fail(f"Expecting element filter, got {root.tag}")
    _check_attrs(
        root, "filter", {"name": _ncname, "chain": _CHAIN, "priority": _PRIORITY}, ("name",), Where()
    )
    _check_no_text(root, "filter", Where())
    seen_uuid = False
    rule_number = 0
    for child in elements(root):
        if child.tag == "uuid":
            if seen_uuid:
                raise _fail("Extra element uuid in interleave")
            seen_uuid = True
            _check_attrs(child, "uuid", {}, (), Where())
            if elements(child):
                raise _fail(f"Element uuid has extra content: {elements(child)[0].tag}")
            if not _UUID(child.text or ""):
                raise _fail(f"uuid '{child.text or ''}' is not a UUID")
        elif child.tag == "filterref":
            validate_filterref(child, Where(element="filterref"))
        elif child.tag == "rule":
            rule_number += 1
            _validate_rule(child, rule_number)
        else:
            raise _fail(f"Element filter has extra content: {child.tag}")


def validate_filterref(node: etree._Element, where: Where) -> None:
    _check_attrs(node, "filterref", {"filter": _ncname}, ("filter",), where)
    _check_no_text(node, "filterref", where)
    for child in elements(node):
        if child.tag != "parameter":
            raise _fail(f"Element filterref has extra content: {child.tag}", where)
        checks = {"name": _PARAM_NAME, "value": _PARAM_VALUE}
        _check_attrs(child, "parameter", checks, ("name", "value"), where)
        _check_no_text(child, "parameter", where, allow_children=False)


def _validate_rule(node: etree._Element, number: int) -> None:
    where = Where(rule=number)
    _check_attrs(node, "rule", _RULE_ATTRS, ("action", "direction"), where)
    _check_no_text(node, "rule", where)
    children = elements(node)
    if len(children) > 1:
        raise _fail(
            f"Element rule has extra content: {children[1].tag} (at most one protocol element)", where
        )
    for child in children:
        spec = PROTOCOLS.get(str(child.tag))
        if spec is None:
            raise _fail(f"Element rule has extra content: {child.tag}", where)
        _validate_protocol(spec, child, number)


def _validate_protocol(spec: ProtocolSpec, node: etree._Element, number: int) -> None:
    where = Where(rule=number, element=spec.element)
    allowed: dict[str, Callable[[str], bool]] = {"match": _tokens("yes", "no")}
    for attr in spec.attrs:
        if attr.rng is not None:
            allowed[attr.name] = VALUE_TYPES[attr.rng]
    for name, rng in spec.schema_only:
        allowed[name] = VALUE_TYPES[rng]
    _check_attrs(node, spec.element, allowed, (), where)
    _check_no_text(node, spec.element, where, allow_children=False)
    if ("ipset" in node.attrib) != ("ipsetflags" in node.attrib):
        raise _fail(f"Element {spec.element}: ipset and ipsetflags must be given together", where)
