"""<filterbinding>: libvirt's dumpxml layout and every error libvirt gives (measured on libvirt 9.0)."""

from __future__ import annotations

from uuid import UUID

import pytest

from guestwall.errors import BindingError, XMLError
from guestwall.model.binding import Binding, Owner
from guestwall.model.filter import FilterRef
from guestwall.model.mac import MacAddress
from guestwall.nwfilter import format_binding, parse_binding

OWNER = "<owner><name>vm</name><uuid>d54df46f-1ab5-4a22-8618-4560ef5fac2c</uuid></owner>"
PORT = "<portdev name='vnet0'/>"
MAC = "<mac address='52:54:00:7B:35:93'/>"
REF = "<filterref filter='clean-traffic'/>"


def binding(*parts: str) -> str:
    return "<filterbinding>" + "".join(parts) + "</filterbinding>"


def test_round_trip_in_libvirt_layout() -> None:
    xml = binding(
        REF.replace(
            "/>",
            "><parameter name='MAC' value='52:54:00:7b:35:93'/><parameter name='IP' value='10.0.0.5'/>"
            "<parameter name='IP' value='10.0.0.6'/><parameter name='bad-name' value='1'/></filterref>",
        ),
        MAC,
        "<linkdev name='eth0'/>",
        PORT,
        OWNER,
        "<foo bar='1'/><backend name='iptables'/>",
    )
    b = parse_binding(xml)
    assert b == Binding(
        owner=Owner("vm", UUID("d54df46f-1ab5-4a22-8618-4560ef5fac2c")),
        portdev="vnet0",
        mac=MacAddress(0x5254007B3593),
        filterref=FilterRef(
            "clean-traffic", (("IP", ("10.0.0.5", "10.0.0.6")), ("MAC", ("52:54:00:7b:35:93",)))
        ),
        linkdev="eth0",
    )
    text = format_binding(b)
    assert text == (
        "<filterbinding>\n"
        "  <owner>\n"
        "    <name>vm</name>\n"
        "    <uuid>d54df46f-1ab5-4a22-8618-4560ef5fac2c</uuid>\n"
        "  </owner>\n"
        "  <portdev name='vnet0'/>\n"
        "  <linkdev name='eth0'/>\n"
        "  <mac address='52:54:00:7b:35:93'/>\n"
        "  <filterref filter='clean-traffic'>\n"
        "    <parameter name='IP' value='10.0.0.5'/>\n"
        "    <parameter name='IP' value='10.0.0.6'/>\n"
        "    <parameter name='MAC' value='52:54:00:7b:35:93'/>\n"
        "  </filterref>\n"
        "</filterbinding>\n"
    )
    assert parse_binding(text) == b


def test_minimal_and_special_owner_names() -> None:
    owner = "<owner><name>v&amp;m&lt;&apos;</name><uuid> D54DF46F1AB54A2286184560EF5FAC2C </uuid></owner>"
    b = parse_binding(binding(owner, PORT, MAC, REF))
    assert b.owner.name == "v&m<'" and b.linkdev is None and b.filterref.params == ()
    assert format_binding(b) == (
        "<filterbinding>\n"
        "  <owner>\n"
        "    <name>v&amp;m&lt;&apos;</name>\n"
        "    <uuid>d54df46f-1ab5-4a22-8618-4560ef5fac2c</uuid>\n"
        "  </owner>\n"
        "  <portdev name='vnet0'/>\n"
        "  <mac address='52:54:00:7b:35:93'/>\n"
        "  <filterref filter='clean-traffic'/>\n"
        "</filterbinding>\n"
    )


def test_libvirt_leniencies() -> None:
    # first element wins, the MAC may have trailing text after a blank, multicast MACs are accepted
    b = parse_binding(
        binding(OWNER, "<portdev name='a'/><portdev name='b'/>", "<mac address='53:54:00:7B:35:93 x'/>", REF)
    )
    assert (b.portdev, str(b.mac)) == ("a", "53:54:00:7b:35:93")
    two_names = (
        "<owner><name>vm</name><name>vm2</name><uuid>d54df46f-1ab5-4a22-8618-4560ef5fac2c</uuid></owner>"
    )
    assert parse_binding(binding(two_names, PORT, MAC, REF)).owner.name == "vm"


NO_OWNER_UUID = "<owner><name>vm</name></owner>"


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        (binding(PORT, MAC, REF), "filter binding has no owner name"),
        (
            binding("<owner><uuid>d54df46f-1ab5-4a22-8618-4560ef5fac2c</uuid></owner>", PORT, MAC, REF),
            "filter binding has no owner name",
        ),
        (binding(OWNER.replace(">vm<", "><"), PORT, MAC, REF), "filter binding has no owner name"),
        (binding(NO_OWNER_UUID, PORT, MAC, REF), "filter binding has no owner UUID"),
        (
            binding("<owner><name>vm</name><uuid></uuid></owner>", PORT, MAC, REF),
            "filter binding has no owner UUID",
        ),
        (
            binding("<owner><name>vm</name><uuid>bad</uuid></owner>", PORT, MAC, REF),
            "Unable to parse UUID 'bad'",
        ),
        (binding(OWNER, MAC, REF), "filter binding has no port dev name"),
        (binding(OWNER, "<portdev/>", MAC, REF), "filter binding has no port dev name"),
        (binding(OWNER, "<portdev name=''/>", MAC, REF), "filter binding has no port dev name"),
        (binding(OWNER, "<linkdev/>"), "filter binding has no port dev name"),
        (binding(OWNER, PORT, "<linkdev/>"), "filter binding has no link dev name"),
        (binding(OWNER, PORT, "<linkdev name=''/>", MAC, REF), "filter binding has no link dev name"),
        (binding(OWNER, PORT, REF), "filter binding has no MAC address"),
        (binding(OWNER, PORT, "<mac address=''/>", REF), "filter binding has no MAC address"),
        (binding(OWNER, PORT, "<mac address='zz'/>", REF), "Unable to parse MAC 'zz'"),
        (
            binding(OWNER, PORT, "<mac address='52:54:00:7b:35'/>", REF),
            "Unable to parse MAC '52:54:00:7b:35'",
        ),
        (binding(OWNER, PORT, MAC), "filter binding has no filter reference"),
        (binding(OWNER, PORT, MAC, "<filterref/>"), "filter binding has no filter reference"),
        (binding(OWNER, PORT, MAC, "<filterref filter=''/>"), "filter binding has no filter reference"),
    ],
)
def test_errors(xml: str, message: str) -> None:
    with pytest.raises(BindingError) as info:
        parse_binding(xml)
    assert str(info.value) == message
    assert info.value.code == "internal error"


def test_wrong_root_and_not_xml() -> None:
    with pytest.raises(BindingError) as info:
        parse_binding("<binding/>")
    assert str(info.value) == "expecting root element of 'filterbinding', not 'binding'"
    assert info.value.code == "XML error"
    with pytest.raises(XMLError):
        parse_binding("not xml at all")


@pytest.mark.parametrize("portdev", ["vnet&amp;x y", "a/b", "a:b", "x" * 16, "..", "tab&#9;x"])
def test_port_devices_must_be_interface_names(portdev: str) -> None:
    # libvirt accepts any port dev name and then finds no device; guestwall wants a Linux interface name.
    with pytest.raises(BindingError, match="not a valid interface name"):
        parse_binding(binding(OWNER, f"<portdev name='{portdev}'/>", MAC, REF))
    with pytest.raises(BindingError, match="link dev"):
        parse_binding(binding(OWNER, PORT, f"<linkdev name='{portdev}'/>", MAC, REF))


def test_port_device_of_fifteen_bytes_is_fine() -> None:
    assert parse_binding(binding(OWNER, f"<portdev name='{'x' * 15}'/>", MAC, REF)).portdev == "x" * 15


def test_the_mac_parameter_is_not_added_here() -> None:
    assert parse_binding(binding(OWNER, PORT, MAC, REF)).filterref.params == ()


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        ((NO_OWNER_UUID, MAC, REF), "filter binding has no port dev name"),
        ((NO_OWNER_UUID, PORT, "<linkdev/>", MAC, REF), "filter binding has no link dev name"),
        (
            ("<owner><name>vm</name><uuid>bad</uuid></owner>", PORT, "<linkdev/>"),
            "filter binding has no link dev name",
        ),
        ((NO_OWNER_UUID, PORT, "<mac address='zz'/>"), "filter binding has no owner UUID"),
        ((OWNER, PORT, "<mac address='zz'/>"), "Unable to parse MAC 'zz'"),
        ((OWNER, PORT), "filter binding has no MAC address"),
    ],
)
def test_error_order_is_libvirts(parts: tuple[str, ...], message: str) -> None:
    # Measured: port dev, then link dev, then owner, MAC and filter reference.
    with pytest.raises(BindingError) as info:
        parse_binding(binding(*parts))
    assert str(info.value) == message
