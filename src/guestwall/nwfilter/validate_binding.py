"""The checks of libvirt's filter binding schema (``virsh nwfilter-binding-create --validate``, the flag
``VIR_NWFILTER_BINDING_CREATE_VALIDATE``), run before parsing when ``parse_binding(validate=True)``.

The schema: one ``<filterbinding>`` holding, in any order, ``<owner>`` (``<name>`` text and ``<uuid>``),
``<portdev name>``, an optional ``<linkdev name>``, ``<mac address>`` and ``<filterref filter>`` with its
``<parameter name value>`` elements; nothing else, each once.
"""

from __future__ import annotations

import re

from lxml import etree

from guestwall.errors import BindingError, FilterError, Where
from guestwall.nwfilter.safexml import elements
from guestwall.nwfilter.validate import SCHEMA, validate_filterref

_MAC = re.compile(r"([a-fA-F0-9]{1,2}:){5}[a-fA-F0-9]{1,2}")  # the schema's macAddr (values: model.mac)
_UUID = re.compile(r"[a-fA-F0-9]{32}|[a-fA-F0-9]{8}-([a-fA-F0-9]{4}-){3}[a-fA-F0-9]{12}")
_SPACE = " \t\r\n"
# element -> its attributes (all required); each element appears at most once
_EMPTY_ELEMENTS = {"portdev": ("name",), "linkdev": ("name",), "mac": ("address",)}
_REQUIRED = ("owner", "portdev", "mac", "filterref")


def _fail(message: str) -> BindingError:
    error = BindingError(message)
    error.code = SCHEMA
    return error


def _attr_names(node: etree._Element) -> list[str]:
    return [str(key) for key in node.attrib]


def _has_text(node: etree._Element) -> bool:
    return any(t and t.strip(_SPACE) for t in (node.text, *(child.tail for child in node)))


def _empty_element(node: etree._Element, name: str, attrs: tuple[str, ...]) -> None:
    for key in _attr_names(node):
        if key not in attrs:
            raise _fail(f"Invalid attribute {key} for element {name}")
    for key in attrs:
        if key not in node.attrib:
            raise _fail(f"Element {name} failed to validate attributes (no {key})")
    if elements(node) or _has_text(node):
        raise _fail(f"Element {name} has extra content")
    if name == "mac" and not _MAC.fullmatch(str(node.get("address", "")).strip(_SPACE)):
        raise _fail(f"Element mac: address '{node.get('address')}' is not a MAC address")


def _owner(node: etree._Element) -> None:
    if node.attrib:
        raise _fail(f"Invalid attribute {_attr_names(node)[0]} for element owner")
    if _has_text(node):
        raise _fail("Element owner has extra content: text")
    seen: list[str] = []
    for child in elements(node):
        tag = str(child.tag)
        if tag not in ("name", "uuid") or tag in seen:
            raise _fail(f"Element owner has extra content: {tag}")
        seen.append(tag)
        if child.attrib or elements(child):
            raise _fail(f"Element {tag} has extra content")
        if tag == "uuid" and not _UUID.fullmatch((child.text or "").strip(_SPACE)):
            raise _fail(f"uuid '{child.text or ''}' is not a UUID")
    for tag in ("name", "uuid"):
        if tag not in seen:
            raise _fail(f"Element owner misses {tag}")


def validate_binding(root: etree._Element) -> None:
    """Raise BindingError (code "XML document failed to validate against schema") if the schema rejects it."""
    if root.tag != "filterbinding":
        raise _fail(f"Expecting element filterbinding, got {root.tag}")
    if root.attrib:
        raise _fail(f"Invalid attribute {_attr_names(root)[0]} for element filterbinding")
    if _has_text(root):
        raise _fail("Element filterbinding has extra content: text")
    seen: set[str] = set()
    for child in elements(root):
        tag = str(child.tag)
        if tag in seen:
            raise _fail(f"Extra element {tag} in interleave")
        seen.add(tag)
        if tag == "owner":
            _owner(child)
        elif tag in _EMPTY_ELEMENTS:
            _empty_element(child, tag, _EMPTY_ELEMENTS[tag])
        elif tag == "filterref":
            try:
                validate_filterref(child, Where())
            except FilterError as e:
                raise _fail(e.text) from None
        else:
            raise _fail(f"Element filterbinding has extra content: {tag}")
    missing = [tag for tag in _REQUIRED if tag not in seen]
    if missing:
        raise _fail(f"Element filterbinding misses {missing[0]}")
