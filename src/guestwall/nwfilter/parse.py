"""Parsing a ``<filter>`` document into a ``model.Filter``: name, chain, priority, uuid, and the rules and
filterrefs in document order, with libvirt 9.0's checks and messages (rules: ``rules``).
"""

from __future__ import annotations

import re
from uuid import UUID

from lxml import etree

from guestwall.errors import FilterError, Where
from guestwall.model.filter import Filter, FilterEntry, FilterRef, Params, make_params
from guestwall.nwfilter.chains import (
    INVALID_ARG,
    MAX_FILTER_PRIORITY,
    MIN_FILTER_PRIORITY,
    default_chain_priority,
    validate_chain_name,
)
from guestwall.nwfilter.cnumbers import str_to_int
from guestwall.nwfilter.rules import parse_rule
from guestwall.nwfilter.safexml import (
    elements,
    local_name,
    parse_xml,
    prop,
    string_value,
    xpath_attr,
    xpath_child,
)
from guestwall.nwfilter.validate import validate_filter

XML_ERROR = "XML error"
MAX_NAME_BYTES = 251  # the definition is stored as <name>.xml, and a file name has at most 255 bytes
VAR_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
VAR_VALUE_CHARS = VAR_NAME_CHARS | frozenset(".:")


def parse_filter(xml: str | bytes, *, validate: bool = False) -> Filter:
    """The whole filter, or XMLError (malformed, unsafe, too large) or FilterError (what libvirt rejects).

    ``validate`` also applies the checks of libvirt's schema (``virsh nwfilter-define --validate``).
    """
    root = parse_xml(xml, "filter XML")
    root_name = local_name(root)
    if root_name != "filter":
        raise FilterError(f"expecting root element of 'filter', not '{root_name}'", code=XML_ERROR)
    if validate:
        validate_filter(root)
    name = xpath_attr(root, "name")
    if name is None:
        raise FilterError("filter has no name")
    check_filter_name(name)
    chain, priority = _chain_and_priority(root)
    uuid = parse_uuid(string_value(xpath_child(root, "uuid")))
    entries: list[FilterEntry] = []
    rule_number = 0
    for child in elements(root):
        kind = local_name(child)
        if kind == "rule":
            rule_number += 1
            entries.append(parse_rule(child, rule_number))
        elif kind == "filterref":
            entries.append(parse_filterref(child))
    return Filter(name=name, uuid=uuid, chain=chain, priority=priority, entries=tuple(entries))


def check_filter_name(name: str) -> None:
    """guestwall's own rule: a filter name must work as a file name (libvirt stores ``<name>.xml``) and
    contain no control characters. libvirt only fails later, when it writes the file."""
    bad = next((c for c in name if c == "/" or ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F), None)
    if bad is not None:
        shown = "/" if bad == "/" else f"U+{ord(bad):04X}"
        raise FilterError(f"filter name {name!r} cannot contain {shown}", code=XML_ERROR)
    if len(name.encode()) > MAX_NAME_BYTES:
        raise FilterError(f"filter name is longer than {MAX_NAME_BYTES} bytes", code=XML_ERROR)


def _chain_and_priority(root: etree._Element) -> tuple[str, int]:
    """libvirt checks the priority first; it only counts when ``chain`` is given (an empty chain is none)."""
    priority_text = xpath_attr(root, "priority")
    priority: int | None = None
    if priority_text is not None:
        priority = str_to_int(priority_text)
        if priority is None:
            raise FilterError(f"Could not parse chain priority '{priority_text}'", code=INVALID_ARG)
        if not MIN_FILTER_PRIORITY <= priority <= MAX_FILTER_PRIORITY:
            raise FilterError(
                f"Priority '{priority}' is outside valid range of "
                f"[{MIN_FILTER_PRIORITY},{MAX_FILTER_PRIORITY}]",
                code=INVALID_ARG,
            )
    chain = xpath_attr(root, "chain")
    if chain is None:
        return "root", 0
    validate_chain_name(chain)
    return chain, priority if priority is not None else default_chain_priority(chain)


# The canonical form (8-4-4-4-12 hex digits), which nearly every UUID has: read without the pair loop
_CANONICAL_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def parse_uuid(text: str | None) -> UUID | None:
    """libvirt's ``virUUIDParse``: 32 hex digits, '-' and ' ' allowed between digit pairs, blanks around."""
    if text is None:
        return None
    value = text.strip(" \t\n\v\f\r")
    if _CANONICAL_UUID.fullmatch(value):
        return UUID(value)
    return uuid_pairs(value)


def uuid_pairs(value: str) -> UUID:
    """``parse_uuid`` of a text without blanks around, without its shortcut for the canonical form."""
    digits: list[str] = []
    i = 0
    while i < len(value) and len(digits) < 16:
        if value[i] in "- ":
            i += 1
            continue
        pair = value[i : i + 2]
        if len(pair) < 2 or not all(c in "0123456789abcdefABCDEF" for c in pair):
            raise FilterError("malformed uuid element", code=XML_ERROR)
        digits.append(pair)
        i += 2
    if len(digits) < 16 or i != len(value):
        raise FilterError("malformed uuid element", code=XML_ERROR)
    return UUID("".join(digits))


def parse_filterref(node: etree._Element) -> FilterRef:
    name = prop(node, "filter")
    if name is None:
        # libvirt's (mis-worded) message for a filterref without filter attribute.
        raise FilterError("rule node requires action attribute", Where(element="filterref"))
    return FilterRef(filter=name, params=parse_params(node))


def parse_params(node: etree._Element) -> Params:
    """``<parameter name value/>`` children: invalid pairs are skipped silently (an empty name is valid,
    an empty value is not); a repeated name makes a list."""
    pairs: list[tuple[str, str]] = []
    for child in elements(node):
        if local_name(child) != "parameter":
            continue
        name, value = prop(child, "name"), prop(child, "value")
        if name is None or value is None or not value:
            continue
        if any(c not in VAR_NAME_CHARS for c in name) or any(c not in VAR_VALUE_CHARS for c in value):
            continue
        pairs.append((name, value))
    return make_params(pairs)
