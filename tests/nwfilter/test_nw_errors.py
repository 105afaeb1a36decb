"""What libvirt rejects, with libvirt's message, its error-code phrase and where it is."""

from __future__ import annotations

import pytest

from conftest import rule_doc
from guestwall.errors import FilterError, GuestwallError, Where, XMLError
from guestwall.model.filter import DataType
from guestwall.nwfilter import parse_filter, typed_value

PORTS_IP = (
    "IP rule with port specification requires protocol specification with protocol to be either one of "
    "tcp(6), udp(17), dccp(33), or sctp(132)"
)


def error_of(xml: str) -> FilterError:
    with pytest.raises(FilterError) as info:
        parse_filter(xml)
    return info.value


@pytest.mark.parametrize(
    ("xml", "code", "text"),
    [
        ("<filter/>", "internal error", "filter has no name"),
        ("<filter name=''/>", "internal error", "filter has no name"),
        ("<filterref filter='x'/>", "XML error", "expecting root element of 'filter', not 'filterref'"),
        (
            "<filter name='f' priority='bad' chain='foo'/>",
            "invalid argument",
            "Could not parse chain priority 'bad'",
        ),
        ("<filter name='f' priority='0x10'/>", "invalid argument", "Could not parse chain priority '0x10'"),
        (
            "<filter name='f' chain='mac' priority='7 '/>",
            "invalid argument",
            "Could not parse chain priority '7 '",
        ),
        (
            "<filter name='f' chain='foo' priority='2000'/>",
            "invalid argument",
            "Priority '2000' is outside valid range of [-1000,1000]",
        ),
        (
            "<filter name='f' priority='-1001'/>",
            "invalid argument",
            "Priority '-1001' is outside valid range of [-1000,1000]",
        ),
        (
            "<filter name='f' chain='toolongchainname'/>",
            "invalid argument",
            "Name of chain is longer than 12 characters",
        ),
        ("<filter name='f' chain='mac!'/>", "invalid argument", "Chain name contains invalid characters"),
        (
            "<filter name='f'><uuid>bad</uuid><rule action='bogus' direction='out'/></filter>",
            "XML error",
            "malformed uuid element",
        ),
        ("<filter name='f'><uuid>  </uuid></filter>", "XML error", "malformed uuid element"),
        (
            "<filter name='f'><uuid>0000000-0-0000000-0000-000000000000 1</uuid></filter>",
            "XML error",
            "malformed uuid element",
        ),
        (
            "<filter name='f'><uuid>d54df46f-1ab5-4a22-8618-4560ef5fac2c0</uuid></filter>",
            "XML error",
            "malformed uuid element",
        ),
        ("<filter name='f'><filterref/></filter>", "internal error", "rule node requires action attribute"),
    ],
)
def test_filter_level_errors(xml: str, code: str, text: str) -> None:
    error = error_of(xml)
    assert (error.code, error.text) == (code, text)
    assert error.virsh_text().startswith(f"{code}: {text}")


@pytest.mark.parametrize(
    ("attrs", "code", "text"),
    [
        ("direction='out'", "internal error", "rule node requires action attribute"),
        ("action='accept'", "internal error", "rule node requires direction attribute"),
        (
            "action='ACCEPT' direction='out'",
            "unsupported configuration",
            "unknown rule action attribute value",
        ),
        ("action='' direction='out'", "unsupported configuration", "unknown rule action attribute value"),
        (
            "action='accept' direction='both'",
            "unsupported configuration",
            "unknown rule direction attribute value",
        ),
        ("action='bad'", "unsupported configuration", "unknown rule action attribute value"),
    ],
)
def test_rule_level_errors(attrs: str, code: str, text: str) -> None:
    first = "<rule action='accept' direction='out'/><filterref filter='x'/>"
    xml = f"<filter name='f'>{first}<rule {attrs}/></filter>"
    error = error_of(xml)
    assert (error.code, error.text) == (code, text)
    assert error.where == Where(rule=2)
    assert str(error) == f"{text} (rule 2)"


def test_first_failing_entry_wins() -> None:
    error = error_of(
        "<filter name='f'><rule action='accept' direction='out'><tcp dstportstart='99999'/></rule>"
        "<rule direction='out'/></filter>"
    )
    assert str(error) == "dstportstart has illegal value 99999 (element tcp, rule 1)"


def test_last_illegal_attribute_of_an_element_is_reported() -> None:
    # libvirt parses all attributes of an element in table order and keeps the last error.
    error = error_of(rule_doc("<sctp-ipv6 connlimit-above='1e3' dscp='4294967296' srcmacaddr='x'/>"))
    assert error.text == "connlimit-above has illegal value 1e3"
    # ... but stops after the first element with an error.
    error = error_of(rule_doc("<ipv6 codeend='0x' srcmacaddr=' 1:2:3:4:5:6'/><ipv6 codeend='65536'/>"))
    assert error.text == "codeend has illegal value 0x"


def test_ip_rules_with_ports_need_a_port_protocol() -> None:
    assert error_of(rule_doc("<ip dstportstart='22'/>")).text == PORTS_IP
    assert error_of(rule_doc("<ip protocol='$P' dstportstart='22'/>")).text == PORTS_IP
    assert error_of(rule_doc("<ip protocol='icmp' srcportend='1'/>")).text == PORTS_IP
    ipv6 = error_of(rule_doc("<ipv6 protocol='udplite' dstportstart='22'/>"))
    assert ipv6.text == PORTS_IP.replace("IP rule", "IPv6 rule")
    assert ipv6.where == Where(rule=1, element="ipv6")
    # checked after every element: ports before the protocol fail even if the protocol comes later
    assert error_of(rule_doc("<ip srcportstart='1'/><ip protocol='tcp'/>")).text == PORTS_IP
    assert error_of(rule_doc("<ip protocol='tcp' srcportstart='1'/><ip protocol='igmp'/>")).text == PORTS_IP
    for ok in [
        "<ip protocol='tcp'/><ip srcportstart='1'/>",
        "<ip protocol='33' dstportstart='1'/>",
        "<ip protocol='0x84' dstportstart='1'/>",
        "<ip protocol='tcp' dstportstart='$P'/>",
        "<ipv6 protocol='udp' srcportstart='1'/>",
    ]:
        parse_filter(rule_doc(ok))


@pytest.mark.parametrize("name", ["a/b", "a&#127;b", "a&#x85;b", "a&#10;b", "a&#9;b", "x" * 252, "é" * 126])
def test_filter_names_that_cannot_be_files(name: str) -> None:
    error = error_of(f"<filter name='{name}'/>")
    assert error.code == "XML error"
    assert "filter name" in error.text


@pytest.mark.parametrize("name", ["a b", "..", "é", "x" * 251, "clean-traffic"])
def test_filter_names_accepted(name: str) -> None:
    assert parse_filter(f"<filter name='{name}'/>").name == name


def test_not_xml_is_an_xml_error() -> None:
    for xml in ["", "not xml", "<filter name='x'>", "<filter name='x'/><filter name='y'/>"]:
        with pytest.raises(XMLError):
            parse_filter(xml)


def test_typed_value() -> None:
    value = typed_value("tcp", "dstportstart", "0x16")
    assert (value.value, value.datatype, value.negated) == (22, DataType.UINT16_HEX, False)
    assert typed_value("mac", "protocolid", "ipv4").value == 0x800
    assert typed_value("ip", "srcipaddr", "10.1.2").value.packed == bytes([10, 1, 0, 2])  # type: ignore[union-attr]
    with pytest.raises(FilterError) as info:
        typed_value("tcp", "dstportstart", "65536")
    assert info.value.text == "dstportstart has illegal value 65536"
    assert info.value.where == Where(element="tcp", attribute="dstportstart")
    with pytest.raises(FilterError, match="srcipaddr has illegal value"):
        typed_value("tcp", "srcipaddr", "$IP")  # variables are not values
    with pytest.raises(FilterError, match="no attribute"):
        typed_value("tcp", "vlanid", "1")
    with pytest.raises(FilterError, match="unknown protocol"):
        typed_value("sctp6", "srcipaddr", "::1")


def test_all_errors_are_guestwall_errors() -> None:
    assert issubclass(FilterError, GuestwallError) and issubclass(XMLError, GuestwallError)


def test_canonical_uuid_shortcut_reads_as_the_pair_loop() -> None:
    # parse_uuid reads the 8-4-4-4-12 form without virUUIDParse's pair loop: the same UUID or the same error
    from guestwall.nwfilter.parse import parse_uuid, uuid_pairs

    base = "d54df46f-1ab5-4a22-8618-4560ef5fac2c"
    texts = [base, base.upper(), f" {base}\n", base + "0", base[:-1], base.replace("-", ""), "{" + base + "}"]
    texts += [base[:i] + c + base[i + 1 :] for i in range(len(base)) for c in "-g ٣0F"]
    texts += [base[:i] + "-" + base[i:] for i in range(len(base) + 1)]
    for text in texts:
        try:
            expected = uuid_pairs(text.strip(" \t\n\v\f\r"))
        except FilterError as e:
            with pytest.raises(FilterError, match=str(e)):
                parse_uuid(text)
        else:
            assert parse_uuid(text) == expected, text
