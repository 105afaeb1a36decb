"""parse_filter(validate=True): the checks of libvirt's schema (nwfilter-define --validate), as measured."""

from __future__ import annotations

import pytest

from guestwall.errors import FilterError
from guestwall.nwfilter import builtin_filters, format_filter, parse_filter
from guestwall.nwfilter.builtins import builtin_names, builtin_xml

SCHEMA = "XML document failed to validate against schema"
UUID = "d54df46f-1ab5-4a22-8618-4560ef5fac2c"


def rule(body: str, attrs: str = "action='accept' direction='out'") -> str:
    return f"<filter name='probe'><rule {attrs}>{body}</rule></filter>"


ACCEPTED = [
    rule("<tcp dstportstart=' 22'/>"),
    rule("<tcp match='yes'/>"),
    rule("<tcp ipset='x' ipsetflags='src'/>"),
    rule("<tcp-ipv6 flags='SYN/ALL'/>"),  # in the schema, ignored by the parser
    rule("<mac srcmacaddr='1:2:3:4:5:6'/>"),
    rule("<ip srcipaddr='010.1.2.3'/>"),
    rule("<arp opcode='request'/>"),
    rule("<tcp comment=''/>"),
    rule("<tcp srcipmask='255.255.255.0'/>"),
    rule("<mac protocolid='1536'/>"),
    rule("<ipv6 srcipaddr='::ffff:1.2.3.4'/>"),
    rule("<stp root-priority='+22'/>"),
    rule("<stp root-cost='0022'/>"),
    rule("<tcp srcipaddr='$A[@1]' dstipaddr='$B[ 2 ] '/>"),
    rule("", "action='accept' direction='out' priority=' 5 '"),
    rule("", "action='accept' direction='out' statematch='False'"),
    "<filter name='probe' chain='mac' priority='1000'/>",
    "<filter name='probe' chain='ipv4-ip'"
    " priority='-710'><uuid>D54DF46F1AB54A2286184560EF5FAC2C</uuid></filter>",
    "<filter name='probe'><filterref filter='x'><parameter name='a' value='1.2:x'/></filterref></filter>",
]


@pytest.mark.parametrize("xml", ACCEPTED)
def test_accepted(xml: str) -> None:
    assert format_filter(parse_filter(xml, validate=True)) == format_filter(parse_filter(xml))


REJECTED = [
    (rule("<tcp match='no' srcipaddr='1.2.3.4'/><tcp dstportstart='5'/>"), "at most one protocol element"),
    (rule("<tcp ipset='x'/>"), "ipset and ipsetflags must be given together"),
    (rule("<tcp option='5'/>"), "Invalid attribute option for element tcp"),
    (rule("<tcp-ipv6 state='NEW'/>"), "Invalid attribute state for element tcp-ipv6"),
    (rule("<tcp dstportstart='abc'/>"), "Invalid attribute dstportstart"),
    (rule("<tcp dstportstart='0x'/>"), "Invalid attribute dstportstart"),
    (rule("<tcp srcipaddr='$A[1]x'/>"), "Invalid attribute srcipaddr"),
    (rule("<tcp bogus='1'/>"), "Invalid attribute bogus for element tcp"),
    (rule("<tcp match='NO'/>"), "Invalid attribute match"),
    (rule("<tcp><x/></tcp>"), "Element tcp has extra content: x"),
    (rule("<tcp>text</tcp>"), "Element tcp has extra content: text"),
    (rule("<foo/>"), "Element rule has extra content: foo"),
    (rule("<ip srcipaddr='10.1.2'/>"), "Invalid attribute srcipaddr"),
    (rule("<tcp state='NEW,NONE'/>"), "Invalid attribute state"),
    (rule("<tcp flags='SYN,ALL/SYN'/>"), "Invalid attribute flags"),
    (rule("<all ipset='' ipsetflags='src'/>"), "Invalid attribute ipset"),
    (rule("<mac protocolid='0x5ff'/>"), "Invalid attribute protocolid"),
    (rule("<icmp type='$T'/>"), "Invalid attribute type"),
    (rule("<stp root-cost='+22'/>"), "Invalid attribute root-cost"),
    (rule("<stp root-cost='-0'/>"), "Invalid attribute root-cost"),
    (rule("<arp arpsrcipmask='8'/>"), "Invalid attribute arpsrcipmask"),
    (rule("<arp gratuitous='$G'/>"), "Invalid attribute gratuitous"),
    (
        rule("", "action='accept' direction='out' priority='1001'"),
        "Invalid attribute priority for element rule",
    ),
    (
        rule("", "action='accept' direction='out' priority='abc'"),
        "Invalid attribute priority for element rule",
    ),
    (rule("", "action='accept' direction='out' statematch='true'"), "Invalid attribute statematch"),
    (rule("", "action='accept'"), "Element rule lacks attribute direction"),
    (
        f"<filter name='probe'><uuid>{UUID}</uuid><uuid>{UUID}</uuid></filter>",
        "Extra element uuid",
    ),
    ("<filter name='probe'><uuid>d54df46f-1ab5-4a22-8618-4560ef5fac2</uuid></filter>", "is not a UUID"),
    ("<filter name='probe'><uuid> D54DF46F1AB54A2286184560EF5FAC2C</uuid></filter>", "is not a UUID"),
    ("<filter name='probe' chain='macabcdefghij'/>", "Invalid attribute chain for element filter"),
    ("<filter name='probe' chain='root1'/>", "Invalid attribute chain for element filter"),
    ("<filter name='probe' priority='1001'/>", "Invalid attribute priority for element filter"),
    ("<filter name='probe' bogus='1'/>", "Invalid attribute bogus for element filter"),
    ("<filter name='probe'>text</filter>", "Element filter has extra content: text"),
    ("<filter name='1probe'/>", "Invalid attribute name for element filter"),
    (
        "<filter name='probe'><filterref filter='x'><parameter name='a' value='b c'/></filterref></filter>",
        "value",
    ),
    (
        "<filter name='probe'><filterref filter='x'><parameter name='a'/></filterref></filter>",
        "lacks attribute value",
    ),
    (
        "<filter name='probe'><filterref filter='a:b'/></filter>",
        "Invalid attribute filter for element filterref",
    ),
    ("<filter name='probe'><foo/></filter>", "Element filter has extra content: foo"),
    ("<filter xmlns='urn:x' name='probe'/>", "Expecting element filter"),
]


@pytest.mark.parametrize(("xml", "message"), REJECTED)
def test_rejected(xml: str, message: str) -> None:
    with pytest.raises(FilterError) as info:
        parse_filter(xml, validate=True)
    assert info.value.code == SCHEMA
    assert message in info.value.text


def test_without_validate_the_same_documents_parse_or_fail_otherwise() -> None:
    # Most schema failures are fine for the parser (it ignores what it does not know).
    parse_filter(rule("<tcp bogus='1'/>"))
    assert parse_filter(rule("", "action='accept' direction='out' priority='1001'")).rules[0].priority == 500


def test_rule_numbers_in_schema_errors() -> None:
    xml = (
        "<filter name='p'><rule action='accept' direction='out'/><rule action='drop' direction='x'/></filter>"
    )
    with pytest.raises(FilterError) as info:
        parse_filter(xml, validate=True)
    assert info.value.where.rule == 2


@pytest.mark.parametrize("name", builtin_names())
def test_builtin_files_are_schema_valid(name: str) -> None:
    parse_filter(builtin_xml(name), validate=True)


def test_libvirt_output_with_split_negation_is_not_schema_valid() -> None:
    # A faithful oddity: libvirt's schema allows one protocol element per rule, its formatter prints two.
    text = format_filter(parse_filter(rule("<tcp match='no' srcipaddr='1.2.3.4' dstportstart='2'/>")))
    with pytest.raises(FilterError):
        parse_filter(text, validate=True)
    assert len(builtin_filters()) == 24
