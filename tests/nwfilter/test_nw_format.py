"""Printing as virsh nwfilter-dumpxml (libvirt 9.0): hand-written expected output, measured on libvirt 9.0."""

from __future__ import annotations

from uuid import UUID

import pytest

from conftest import UUID as U
from conftest import match_of, rule_doc, rule_lines
from guestwall.model.filter import Action, AttrValue, DataType, Direction, Filter, FilterRef, Match, Rule
from guestwall.nwfilter import format_filter, parse_filter


def test_dumpxml_example_from_the_reference() -> None:
    xml = f"""<filter name='NAME' chain='ipv4'>
      <uuid>{U}</uuid>
      <rule action='accept' direction='out' statematch='false'>
        <tcp dstportstart='22'/>
        <tcp match='no' srcipaddr='10.1.2.3'/>
      </rule>
      <rule action='drop' direction='inout' priority='1000'/>
      <filterref filter='OTHER'><parameter name='A' value='1'/><parameter name='A' value='2'/></filterref>
    </filter>"""
    assert format_filter(parse_filter(xml)) == (
        "<filter name='NAME' chain='ipv4' priority='-700'>\n"
        f"  <uuid>{U}</uuid>\n"
        "  <rule action='accept' direction='out' priority='500' statematch='false'>\n"
        "    <tcp match='no' srcipaddr='10.1.2.3'/>\n"
        "    <tcp dstportstart='22'/>\n"
        "  </rule>\n"
        "  <rule action='drop' direction='inout' priority='1000'/>\n"
        "  <filterref filter='OTHER'>\n"
        "    <parameter name='A' value='1'/>\n"
        "    <parameter name='A' value='2'/>\n"
        "  </filterref>\n"
        "</filter>\n"
    )


def test_without_uuid_and_entries() -> None:
    assert format_filter(parse_filter("<filter name='x'/>")) == "<filter name='x' chain='root'>\n</filter>\n"
    assert format_filter(Filter(name="x", uuid=UUID(int=1))) == (
        "<filter name='x' chain='root'>\n  <uuid>00000000-0000-0000-0000-000000000001</uuid>\n</filter>\n"
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # A new element starts whenever the negation of the next present attribute (table order) changes.
        (
            "<tcp dstportstart='22'/><tcp match='no' srcipaddr='10.1.2.3'/>",
            "<tcp match='no' srcipaddr='10.1.2.3'/>|<tcp dstportstart='22'/>",
        ),
        (
            "<ip match='no' srcipaddr='1.1.1.1'/><ip dstipaddr='2.2.2.2'/><ip match='no'"
            " protocol='tcp'/><ip dscp='3'/>",
            "<ip match='no' srcipaddr='1.1.1.1'/>|<ip dstipaddr='2.2.2.2'/>|<ip match='no'"
            " protocol='tcp'/>|<ip dscp='3'/>",
        ),
        # libvirt's quirks test: masks and dst ports take the negation of addr and srcportstart.
        (
            "<tcp match='no' srcipaddr='10.1.2.3'/> <tcp match='no' srcportstart='22'/>"
            "<tcp dstportstart='22' comment='comment'/> <tcp match='no' srcporttend='24'/>"
            "<tcp srcipmask='32' dstporttend='24'/>",
            "<tcp match='no' srcipaddr='10.1.2.3' srcipmask='32' srcportstart='22' dstportstart='22'/>"
            "|<tcp comment='comment'/>",
        ),
        (
            "<tcp srcportstart='1'/><tcp match='no' dstportstart='3' dstportend='4'/>",
            "<tcp srcportstart='1' dstportstart='3' dstportend='4'/>",
        ),
        (
            "<tcp match='no' srcportend='5' dstportend='6' srcipmask='24'/>",
            "<tcp srcipmask='24' srcportend='5' dstportend='6'/>",
        ),
        (
            "<mac match='no' srcmacaddr='1:2:3:4:5:6'/><mac srcmacmask='ff:ff:ff:ff:ff:ff'"
            " dstmacmask='ff:0:0:0:0:0'/>",
            "<mac match='no' srcmacaddr='01:02:03:04:05:06' srcmacmask='ff:ff:ff:ff:ff:ff'/>"
            "|<mac dstmacmask='ff:00:00:00:00:00'/>",
        ),
        # arp and rarp masks keep their own negation; so do the MAC masks of ip and ipv6.
        ("<arp match='no' arpsrcipmask='8'/>", "<arp match='no' arpsrcipmask='8'/>"),
        (
            "<ipv6 match='no' dstmacmask='ff:ff:ff:ff:ff:0'/>",
            "<ipv6 match='no' dstmacmask='ff:ff:ff:ff:ff:00'/>",
        ),
        (
            "<ipv6 match='no' typeend='1' code='2' codeend='3'/><ipv6 match='no' type='5'/>",
            "<ipv6 match='no' type='5' typeend='1' code='2' codeend='3'/>",
        ),
        ("<icmp match='no' code='2'/>", "<icmp code='2'/>"),
        ("<icmp match='no' type='1' code='2'/>", "<icmp match='no' type='1' code='2'/>"),
        ("<stp match='no' root-cost-hi='5'/>", "<stp root-cost-hi='5'/>"),
        # Only match='no' negates.
        ("<tcp match='NO' srcipaddr='1.2.3.4'/>", "<tcp srcipaddr='1.2.3.4'/>"),
        ("<tcp match='yes' srcipaddr='1.2.3.4'/>", "<tcp srcipaddr='1.2.3.4'/>"),
        # Later elements of the same protocol override earlier attributes; other protocols are ignored.
        (
            "<tcp dstportstart='22'/><udp dstportstart='53'/><tcp srcportstart='1'/><tcp dstportstart='23'/>",
            "<tcp srcportstart='1' dstportstart='23'/>",
        ),
        ("<tcp match='no' srcipaddr='1.2.3.4'/><tcp srcipaddr='1.2.3.5'/>", "<tcp srcipaddr='1.2.3.5'/>"),
        ("<foo/><tcp/><udp srcportstart='1'/>", "<tcp/>"),
    ],
)
def test_negation_splitting(body: str, expected: str) -> None:
    assert rule_lines(body) == "".join(f"    {e}\n" for e in expected.split("|"))


def test_negation_is_held_in_the_model() -> None:
    match = match_of("<tcp match='no' srcipaddr='1.2.3.4' srcipmask='8' dstportstart='5'/>")
    assert match.get("srcipaddr").negated  # type: ignore[union-attr]
    assert match.get("srcipmask").negated  # type: ignore[union-attr]
    assert not match.get("dstportstart").negated  # type: ignore[union-attr]
    assert [name for name, _ in match.attrs] == ["srcipaddr", "srcipmask", "dstportstart"]


def test_ipset_fixups() -> None:
    assert rule_lines("<tcp ipset='x'/>") == "    <tcp ipset='x' ipsetflags='src'/>\n"
    assert rule_lines("<tcp ipset='$X'/>") == "    <tcp ipset='$X' ipsetflags='src'/>\n"
    assert (
        rule_lines("<tcp match='no' ipset='x'/>")
        == "    <tcp match='no' ipset='x'/>\n    <tcp ipsetflags='src'/>\n"
    )
    assert rule_lines("<tcp ipsetflags='dst'/>") == "    <tcp/>\n"
    # libvirt clears both when both are given (a bug); guestwall keeps them.
    assert (
        rule_lines("<tcp ipset='x' ipsetflags='src,dst'/>") == "    <tcp ipset='x' ipsetflags='src,dst'/>\n"
    )
    assert rule_lines("<icmpv6 ipset='' ipsetflags='dst'/>") == "    <icmpv6 ipset='' ipsetflags='dst'/>\n"
    # all/all-ipv6 have no fixup at all.
    assert rule_lines("<all ipset='x'/>") == "    <all ipset='x'/>\n"
    assert rule_lines("<all-ipv6 ipsetflags='dst'/>") == "    <all-ipv6 ipsetflags='dst'/>\n"


def test_hex_decimal_and_names_are_kept() -> None:
    assert rule_lines("<udp srcportstart='0x50' srcportend='80' dstportstart='ff'/>") == (
        "    <udp srcportstart='0x50' srcportend='80' dstportstart='0xff'/>\n"
    )
    assert match_of("<udp srcportstart='0x50'/>").get("srcportstart") == AttrValue(0x50, DataType.UINT16_HEX)
    assert match_of("<mac protocolid='ARP'/>").get("protocolid") == AttrValue(0x806, DataType.STRING)


def test_variables() -> None:
    assert rule_lines(
        "<tcp srcipaddr='$A[@0]' dstipaddr='$A[01]' srcipfrom='$B[ 1 ]' dstipfrom='$C[@ 2]'/>"
    ) == ("    <tcp srcipaddr='$A' dstipaddr='$A[1]' srcipfrom='$B[1]' dstipfrom='$C[@2]'/>\n")
    assert rule_lines("<tcp match='no' srcipaddr='$IP'/>") == "    <tcp match='no' srcipaddr='$IP'/>\n"
    assert rule_lines("<mac protocolid='$P' comment='$C'/>") == "    <mac protocolid='$P' comment='$C'/>\n"


def test_comment_escaping() -> None:
    assert rule_lines("<tcp comment='a&lt;b&gt;c&amp;d&quot;e&apos;f'/>") == (
        "    <tcp comment='a&lt;b&gt;c&amp;d&quot;e&apos;f'/>\n"
    )
    # Tab, newline and carriage return are printed raw inside the attribute (as libvirt does).
    text = format_filter(parse_filter(rule_doc("<tcp comment='a&#10;b&#9;c&#13;d\te'/>")))
    assert "    <tcp comment='a\nb\tc\rd e'/>\n" in text


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        ("<filter name='f'>", "<filter name='f' chain='root'>"),
        ("<filter name='f' priority='5'>", "<filter name='f' chain='root'>"),
        ("<filter name='f' chain='' priority='5'>", "<filter name='f' chain='root'>"),
        ("<filter name='f' chain='mac'>", "<filter name='f' chain='mac' priority='-800'>"),
        ("<filter name='f' chain='mac' priority='0'>", "<filter name='f' chain='mac'>"),
        ("<filter name='f' chain='mac' priority=' +7'>", "<filter name='f' chain='mac' priority='7'>"),
        ("<filter name='f' chain='stp'>", "<filter name='f' chain='stp'>"),
        (
            "<filter name='f' chain='arp-ip' priority='-510'>",
            "<filter name='f' chain='arp-ip' priority='-510'>",
        ),
        (
            "<filter name='f' chain='root' priority='-1000'>",
            "<filter name='f' chain='root' priority='-1000'>",
        ),
    ],
)
def test_chains_and_priorities(head: str, expected: str) -> None:
    assert format_filter(parse_filter(head + "</filter>")).splitlines()[0] == expected


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        ("priority='abc'", "priority='500'"),
        ("priority='0x10'", "priority='500'"),
        ("priority='7abc'", "priority='500'"),
        ("priority='7 '", "priority='500'"),
        ("priority=''", "priority='500'"),
        ("priority='1001'", "priority='500'"),
        ("priority='99999999999'", "priority='500'"),
        ("priority=' 7'", "priority='7'"),
        ("priority='+7'", "priority='7'"),
        ("priority='-0'", "priority='0'"),
        ("priority='-1000'", "priority='-1000'"),
        ("statematch='FALSE'", "priority='500' statematch='false'"),
        ("statematch='0'", "priority='500' statematch='false'"),
        ("statematch='no'", "priority='500'"),
    ],
)
def test_rule_priority_and_statematch(attrs: str, expected: str) -> None:
    xml = f"<filter name='f'><rule action='reject' direction='inout' {attrs}/></filter>"
    assert (
        format_filter(parse_filter(xml)).splitlines()[1]
        == f"  <rule action='reject' direction='inout' {expected}/>"
    )


def test_uuid_forms() -> None:
    def uuid_line(inner: str) -> str | None:
        lines = format_filter(parse_filter(f"<filter name='f'>{inner}</filter>")).splitlines()
        return lines[1] if len(lines) > 2 else None

    expected = "  <uuid>abcdef01-2345-6789-abcd-ef0123456789</uuid>"
    assert uuid_line("<uuid>ABCDEF01-2345-6789-ABCD-EF0123456789</uuid>") == expected
    assert uuid_line("<uuid>ABCDEF0123456789ABCDEF0123456789</uuid>") == expected
    assert uuid_line("<uuid> ABCDEF01 2345-6789ABCD-EF01234567-89 </uuid>") == expected
    assert uuid_line("<uuid>abcdef01-2345-6789-abcd-ef0123456789</uuid><uuid>bad</uuid>") == expected
    assert uuid_line("<uuid></uuid>") is None  # empty counts as absent


def test_filterref_parameters() -> None:
    xml = (
        "<filter name='f'><filterref filter=''><parameter name='' value='7'/><parameter name='A' value=''/>"
        "<parameter name='B' value='1'/><parameter name='B' value='1'/><parameter name='a' value='x'/>"
        "<parameter name='_x' value='x.y:z'/><parameter name='A10' value='1'/><parameter name='A2'"
        " value='1'/>"
        "<parameter name='Z' value='1'/><parameter value='1'/><parameter name='C'/><parameter"
        " name='bad-name' value='1'/>"
        "<parameter name='E' value='bad value'/><parameter name='F' value='a/b'/><parameter name='G'"
        " value='-1'/>"
        "<junk/></filterref></filter>"
    )
    f = parse_filter(xml)
    assert f.refs[0].param_dict()["B"] == ("1", "1")
    assert format_filter(f) == (
        "<filter name='f' chain='root'>\n"
        "  <filterref filter=''>\n"
        "    <parameter name='' value='7'/>\n"
        "    <parameter name='A10' value='1'/>\n"
        "    <parameter name='A2' value='1'/>\n"
        "    <parameter name='B' value='1'/>\n"
        "    <parameter name='B' value='1'/>\n"
        "    <parameter name='Z' value='1'/>\n"
        "    <parameter name='_x' value='x.y:z'/>\n"
        "    <parameter name='a' value='x'/>\n"
        "  </filterref>\n"
        "</filter>\n"
    )


def test_entries_keep_document_order_and_unknown_children_are_ignored() -> None:
    f = parse_filter(
        "<filter name='f'><rule action='accept' direction='out'/><foo/><filterref filter='x'/>"
        "<!-- c --><rule action='drop' direction='in' priority='1'><tcp/></rule></filter>"
    )
    assert [type(e).__name__ for e in f.entries] == ["Rule", "FilterRef", "Rule"]


def test_namespaces_are_looked_through_as_libvirt_does() -> None:
    # libxml2's xmlGetProp and node-name checks ignore namespaces: x:action counts, the first one wins.
    f = parse_filter(
        "<filter xmlns:x='urn:x' name='f'><x:rule action='accept' direction='out'/>"
        "<rule x:action='drop' action='accept' direction='out'><x:tcp x:srcportstart='5'/></rule></filter>"
    )
    assert [r.action for r in f.rules] == [Action.ACCEPT, Action.DROP]
    assert f.rules[1].match == Match("tcp", (("srcportstart", AttrValue(5, DataType.UINT16)),))


def test_format_of_a_model_built_in_code() -> None:
    f = Filter(
        name="api",
        chain="mac",
        priority=-800,
        entries=(
            Rule(
                Action.RETURN,
                Direction.OUT,
                100,
                True,
                Match("mac", (("srcmacaddr", AttrValue("$MAC", DataType.STRINGCOPY)),)),
            ),
            FilterRef("x", (("IP", ("1.2.3.4", "5.6.7.8")),)),
        ),
    )
    assert format_filter(f) == (
        "<filter name='api' chain='mac' priority='-800'>\n"
        "  <rule action='return' direction='out' priority='100'>\n"
        "    <mac srcmacaddr='$MAC'/>\n"
        "  </rule>\n"
        "  <filterref filter='x'>\n"
        "    <parameter name='IP' value='1.2.3.4'/>\n"
        "    <parameter name='IP' value='5.6.7.8'/>\n"
        "  </filterref>\n"
        "</filter>\n"
    )


def test_names_with_xml_specials_are_escaped() -> None:
    # libvirt prints them raw (broken XML); guestwall escapes so that the output parses again.
    f = parse_filter("<filter name='a&amp;b&lt;'><filterref filter='x&amp;&apos;y'/></filter>")
    text = format_filter(f)
    assert (
        text == "<filter name='a&amp;b&lt;' chain='root'>\n  <filterref filter='x&amp;&apos;y'/>\n</filter>\n"
    )
    assert parse_filter(text) == f
