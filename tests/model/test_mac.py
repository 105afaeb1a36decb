"""MacAddress: libvirt's MAC syntax parsed once into a value, its canonical text, and the operations the
pipeline needs (masks, prefixes, multicast, EUI-64); and every entry point refusing a bad MAC by name."""

from __future__ import annotations

from ipaddress import IPv6Address

import pytest

from guestwall.cloud.validate import CloudInputError
from guestwall.cloud.validate import mac as cloud_mac
from guestwall.errors import BindingError, InputError
from guestwall.instantiate.fields import Shape
from guestwall.instantiate.program import HoleShape, hole_shape
from guestwall.model.mac import BROADCAST, STP_GROUP, MacAddress
from guestwall.nwfilter import parse_filter, typed_value
from guestwall.simulate import parse_packet
from guestwall.simulate.packet import PacketError
from guestwall.virt.domain import parse_domain


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("52:54:00:7B:35:93", "52:54:00:7b:35:93"),
        ("a:b:c:d:e:f", "0a:0b:0c:0d:0e:0f"),
        ("00:00:00:00:00:00", "00:00:00:00:00:00"),
        ("FF:ff:FF:ff:FF:ff", "ff:ff:ff:ff:ff:ff"),
    ],
)
def test_parse_gives_the_canonical_text(text: str, canonical: str) -> None:
    mac = MacAddress.parse(text)
    assert mac is not None and str(mac) == canonical
    assert MacAddress.parse(canonical) == mac


@pytest.mark.parametrize(
    "text",
    ["", "zz", "52:54:00:00:01", "52:54:00:00:00:01:02", "520:54:00:00:00:01", "52-54-00-00-00-01",
     "52:54:00:00:00:01 ", "52:54::00:00:01", ":52:54:00:00:00"],
)
def test_parse_refuses_what_is_not_six_groups(text: str) -> None:
    assert MacAddress.parse(text) is None


def test_libvirt_accepts_text_after_a_blank_only() -> None:
    # virMacAddrParse stops at the sixth group and allows any character <= ' ' after it
    assert str(MacAddress.parse("52:54:00:00:00:01 junk", trailing=True)) == "52:54:00:00:00:01"
    assert MacAddress.parse("52:54:00:00:00:01junk", trailing=True) is None
    assert MacAddress.parse("52:54:00:00:00:01 junk") is None


def test_require_names_value_and_place_with_the_callers_error() -> None:
    with pytest.raises(BindingError, match=r"^domain 'vm' interface: 'nope' is not a MAC address$"):
        MacAddress.require("nope", "domain 'vm' interface", BindingError)
    with pytest.raises(InputError, match="'None' is not a MAC address"):
        MacAddress.require(None, "here")
    assert MacAddress.require(" 52:54:00:00:00:01\n", "here") == MacAddress(0x525400000001)


def test_value_operations() -> None:
    mac = MacAddress(0x525400123456)
    assert repr(mac) == "MacAddress('52:54:00:12:34:56')"
    assert MacAddress.from_bytes(mac.packed) == mac and len(mac.packed) == 6
    assert not mac.is_multicast and BROADCAST.is_multicast and STP_GROUP.is_multicast
    assert MacAddress(0).is_zero and not mac.is_zero
    assert MacAddress(0x010000000000) < mac < BROADCAST
    assert mac.with_first_byte(0xFE) == MacAddress(0xFE5400123456)
    assert mac.link_local() == IPv6Address("fe80::5054:ff:fe12:3456")
    assert MacAddress(0x00163E000001).link_local() == IPv6Address("fe80::216:3eff:fe00:1")
    with pytest.raises(ValueError):
        MacAddress(1 << 48)
    with pytest.raises(ValueError):
        MacAddress.from_bytes(b"\x00" * 5)


def test_masks_and_prefixes() -> None:
    assert MacAddress.mask(24) == MacAddress(0xFFFFFF000000)
    assert MacAddress.mask(24).prefix_length == 24
    assert BROADCAST.prefix_length == 48 and MacAddress(0).prefix_length == 0
    assert MacAddress(0xFF00FF000000).prefix_length is None
    lo, hi = MacAddress(0x525400123456).bounds(24)
    assert (str(lo), str(hi)) == ("52:54:00:00:00:00", "52:54:00:ff:ff:ff")
    assert MacAddress(0x525400123456).same_prefix(MacAddress(0x5254009ABCDE), 24)
    assert not MacAddress(0x525400123456).same_prefix(MacAddress(0x5254019ABCDE), 24)


def test_filter_attributes_are_mac_values_and_print_as_before() -> None:
    assert typed_value("mac", "srcmacaddr", "A:B:C:D:E:F").value == MacAddress(0x0A0B0C0D0E0F)
    mask = typed_value("mac", "srcmacmask", "ff:ff:ff:00:00:00").value
    assert isinstance(mask, MacAddress) and mask.prefix_length == 24
    f = parse_filter(
        "<filter name='t'><rule action='drop' direction='out'>"
        "<mac srcmacaddr='52:54:00:AA:BB:CC' srcmacmask='ff:ff:ff:00:00:00'/></rule></filter>"
    )
    from guestwall.nwfilter import format_filter

    assert "srcmacaddr='52:54:00:aa:bb:cc' srcmacmask='ff:ff:ff:00:00:00'" in format_filter(f)


def test_cloud_macs_are_two_digit_bytes_unicast_and_not_zero() -> None:
    assert cloud_mac("52-54-00-12-34-56") == MacAddress(0x525400123456)
    assert cloud_mac(" 52:54:00:12:34:56 ") == MacAddress(0x525400123456)
    for bad, why in [
        ("52:54:0:12:34:56", "expected six hex bytes"),
        ("52-54:00:12:34:56", "expected six hex bytes"),
        ("52:54:00:12:34:56 x", "expected six hex bytes"),
        ("01:00:5e:00:00:01", "multicast"),
        ("00:00:00:00:00:00", "all zeros"),
    ]:
        with pytest.raises(CloudInputError, match=why):
            cloud_mac(bad)


def test_domain_and_packet_macs_are_values() -> None:
    domain = parse_domain(
        "<domain><name>vm</name><uuid>d54df46f-1ab5-4a22-8618-4560ef5fac2c</uuid><devices>"
        "<interface type='bridge'><mac address='52:54:00:AA:00:01'/><target dev='vnet0'/></interface>"
        "</devices></domain>",
        active=True,
    )
    assert domain.nics[0].mac == MacAddress(0x525400AA0001)
    with pytest.raises(BindingError, match="domain 'vm' interface: '52:54:00:aa:00' is not a MAC address"):
        parse_domain(
            "<domain><name>vm</name><uuid>d54df46f-1ab5-4a22-8618-4560ef5fac2c</uuid><devices>"
            "<interface type='bridge'><mac address='52:54:00:aa:00'/></interface></devices></domain>",
            active=True,
        )
    from guestwall.instantiate.fields import Field

    assert parse_packet("smac=52:54:0:0:0:1 arp").get(Field.ETHER_SRC) == MacAddress(0x525400000001)
    with pytest.raises(PacketError, match="'52:54:00' is not a MAC address"):
        parse_packet("smac=52:54:00 arp")


def test_hole_shapes_keep_the_text_set_names_derive_from() -> None:
    # kernel set names hash this text: it must not change for existing rulesets to keep their sets
    assert HoleShape(Shape.MASKED, ("$IP", "$MASK")).key == "masked2:$IP/$MASK"
    assert HoleShape(Shape.RANGE, ("$LO", "$HI")).key == "range2:$LO-$HI"
    assert hole_shape(Shape.MASKED, ("$IP",)) == HoleShape(Shape.VALUE, ("$IP",))
    assert hole_shape(Shape.MASKED, ("$IP",)).key == "value1:$IP"
    assert HoleShape(Shape.MASKED, ("$IP", "24")).is_interval
    assert HoleShape(Shape.RANGE, ("$LO", "$HI")).is_interval
    assert not HoleShape(Shape.VALUE, ("$IP",)).is_interval
    assert not HoleShape(Shape.IPSET, ("$SET", "'src'")).is_interval
