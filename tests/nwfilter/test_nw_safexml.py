"""Hostile input: entity expansion, external entities, huge and deeply nested documents, wrong encodings.
Each must fail with a clear XMLError, fast and without reading files or the network."""

from __future__ import annotations

import time

import pytest

from guestwall.errors import XMLError
from guestwall.nwfilter import parse_binding, parse_filter
from guestwall.nwfilter.safexml import MAX_XML_BYTES

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<filter name="x"><rule action="accept" direction="out"><tcp comment="&lol9;"/></rule></filter>"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE filter [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<filter name="x"><rule action="accept" direction="out"><tcp comment="&secret;"/></rule></filter>"""

EXTERNAL_DTD = """<?xml version="1.0"?>
<!DOCTYPE filter SYSTEM "http://example.invalid/nwfilter.dtd">
<filter name="x"/>"""

PARAMETER_ENTITIES = """<!DOCTYPE filter [<!ENTITY % a "x"> %a; ]><filter name="x"/>"""


def fails_fast(xml: str | bytes, match: str, limit: float = 1.0) -> XMLError:
    start = time.monotonic()
    with pytest.raises(XMLError) as info:
        parse_filter(xml)
    assert time.monotonic() - start < limit
    assert match in str(info.value)
    assert info.value.code == "XML error"
    return info.value


@pytest.mark.parametrize("xml", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD, PARAMETER_ENTITIES])
def test_dtds_and_entities_are_refused(xml: str) -> None:
    fails_fast(xml, "DTD")
    fails_fast(xml.encode(), "DTD")
    with pytest.raises(XMLError):
        parse_binding(xml)


def test_doctype_hidden_in_another_encoding_is_still_refused() -> None:
    fails_fast(
        EXTERNAL_ENTITY.replace('version="1.0"', 'version="1.0" encoding="UTF-16"').encode("utf-16"), "UTF-8"
    )
    latin = EXTERNAL_ENTITY.replace('version="1.0"', 'version="1.0" encoding="ISO-8859-1"').encode("latin-1")
    fails_fast(latin, "DTD")


def test_undefined_entity_is_malformed() -> None:
    fails_fast("<filter name='&x;'/>", "not well-formed")


def test_five_megabytes_are_refused_before_parsing() -> None:
    big = (
        "<filter name='x'>"
        + "<rule action='accept' direction='out'/>" * (5 * 1024 * 1024 // 38)
        + "</filter>"
    )
    assert len(big) > 5_000_000
    error = fails_fast(big, "too large", limit=0.5)
    assert str(MAX_XML_BYTES) in str(error)


def test_just_under_the_limit_parses_in_bounded_time() -> None:
    rule = "<rule action='accept' direction='out'><tcp dstportstart='22' srcipaddr='10.0.0.1'/></rule>"
    count = (MAX_XML_BYTES - 100) // len(rule)
    xml = "<filter name='x'>" + rule * count + "</filter>"
    start = time.monotonic()
    f = parse_filter(xml)
    assert len(f.rules) == count
    assert time.monotonic() - start < 30


def test_deep_nesting_is_refused() -> None:
    depth = 100_000
    xml = "<filter name='x'>" + "<a>" * depth + "</a>" * depth + "</filter>"
    fails_fast(xml, "not well-formed")


def test_wide_attribute_lists_and_long_values_are_fine() -> None:
    attrs = " ".join(f"a{i}='{i}'" for i in range(5000))
    f = parse_filter(
        f"<filter name='x' {attrs}><rule action='accept' direction='out'>"
        f"<tcp comment='{'c' * 100_000}'/></rule></filter>"
    )
    assert len(f.rules[0].match.get("comment").value) == 256  # type: ignore[union-attr, arg-type]


@pytest.mark.parametrize(
    "xml", ["", "   ", "not xml", "<filter", "<filter name='x'></rule>", "\x00<filter/>", "<a/><b/>"]
)
def test_garbage(xml: str) -> None:
    with pytest.raises(XMLError):
        parse_filter(xml)


def test_bad_types_and_bytes() -> None:
    with pytest.raises(XMLError):
        parse_filter(b"\xff\xfe<\x00")
    with pytest.raises(XMLError):
        parse_filter(b"<filter name='\xff'/>")  # not UTF-8
    with pytest.raises(XMLError):
        parse_filter("<filter name='\ud800'/>")  # a lone surrogate is not text
    with pytest.raises(XMLError):
        parse_filter(123)  # type: ignore[arg-type]


def test_encodings_that_libxml2_understands() -> None:
    assert parse_filter("<filter name='é'/>".encode()).name == "é"
    latin = "<?xml version='1.0' encoding='ISO-8859-1'?><filter name='é'/>".encode("latin-1")
    assert parse_filter(latin).name == "é"
    # A str is already decoded: its declaration does not apply.
    assert parse_filter("<?xml version='1.0' encoding='ISO-8859-1'?><filter name='é'/>").name == "é"
