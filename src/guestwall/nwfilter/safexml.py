"""Reading untrusted XML safely (size cap, no DTD or entities, no network, libxml2's depth limit; lxml errors
become XMLError here), and looking up names the way libvirt's libxml2 calls do.
"""

from __future__ import annotations

import re

from lxml import etree

from guestwall.errors import XMLError

MAX_XML_BYTES = 4 * 1024 * 1024

_DTD_MARKERS = re.compile(rb"<!\s*(DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)", re.IGNORECASE)


def _parser(override_encoding: bool) -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
        recover=False,
        collect_ids=False,
        encoding="utf-8" if override_encoding else None,
    )


def parse_xml(xml: str | bytes, what: str = "XML document") -> etree._Element:
    """Parse ``xml`` (str or bytes) into its root element, or raise XMLError."""
    if isinstance(xml, str):
        try:
            data = xml.encode("utf-8")
        except UnicodeEncodeError as e:
            raise XMLError(f"{what} is not valid Unicode text: {e.reason}") from None
        override = True
    elif isinstance(xml, bytes | bytearray | memoryview):
        data = bytes(xml)
        override = False
    else:
        raise XMLError(f"{what} must be text or bytes, not {type(xml).__name__}")
    if len(data) > MAX_XML_BYTES:
        raise XMLError(f"{what} is too large: {len(data)} bytes, the limit is {MAX_XML_BYTES} bytes")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data:
        raise XMLError(f"{what} must be UTF-8 (or another ASCII-compatible encoding): it contains NUL bytes")
    if _DTD_MARKERS.search(data):
        raise XMLError(f"{what} contains a DTD or entity declaration (<!DOCTYPE ...>), which is not accepted")
    if not data.strip():
        raise XMLError(f"{what} is empty")
    try:
        root = etree.fromstring(data, _parser(override))
    except etree.XMLSyntaxError as e:
        raise XMLError(f"{what} is not well-formed XML: {e.msg or e}") from None
    except (ValueError, LookupError) as e:
        raise XMLError(f"{what} cannot be read: {e}") from None
    doc = root.getroottree().docinfo
    if doc.internalDTD is not None or doc.externalDTD is not None or doc.doctype:
        raise XMLError(f"{what} contains a DTD (<!DOCTYPE ...>), which is not accepted")
    return root


# ----- names as libvirt's lookups see them -----


def _text(value: str | bytes) -> str:
    """lxml's stubs allow bytes; with a parsed document it is always str."""
    return value.decode() if isinstance(value, bytes) else value


def local_name(node: etree._Element) -> str | None:
    """The element name without namespace (libvirt compares ``node->name``), None for comments/PIs."""
    tag = node.tag
    if not isinstance(tag, str):
        return None
    return tag.rpartition("}")[2]


def elements(node: etree._Element) -> list[etree._Element]:
    """The child elements in document order, skipping comments, PIs and entity references."""
    return [child for child in node if isinstance(child.tag, str)]


def prop(node: etree._Element, name: str) -> str | None:
    """``virXMLPropString`` (libxml2 ``xmlGetProp``): the first attribute with that local name, whatever its
    namespace."""
    for key, value in node.attrib.items():
        if _text(key).rpartition("}")[2] == name:
            return _text(value)
    return None


def xpath_attr(node: etree._Element, name: str) -> str | None:
    """``virXPathString("string(./@name)")``: the attribute without namespace; "" counts as absent."""
    value = node.get(name)
    return str(value) if value else None


def xpath_child(node: etree._Element, name: str) -> etree._Element | None:
    """``./name`` in libvirt's XPath: the first child element of that name in no namespace."""
    for child in node:
        if child.tag == name:
            return child
    return None


def string_value(node: etree._Element | None) -> str | None:
    """XPath ``string()`` of an element: all its text; "" counts as absent (as ``virXPathString``)."""
    if node is None:
        return None
    text = "".join(_text(t) for t in node.itertext())
    return text or None
