"""A domain's XML into bindings (pure): guestwall's metadata namespace, MAC matching, the default
assignment, interfaces libvirt's own nwfilter filters, and bad metadata."""

from __future__ import annotations

from uuid import UUID

import pytest

from guestwall.errors import BindingError
from guestwall.model import make_params
from guestwall.virt.domain import Assignment, format_assignments, parse_domain

UUID_A = "6f1c2a9e-0000-4000-8000-000000000001"


def domain_xml(metadata: str = "", nics: str = "") -> str:
    return (
        f"<domain type='lxc'><name>web</name><uuid>{UUID_A}</uuid><metadata>{metadata}</metadata>"
        f"<devices>{nics}</devices></domain>"
    )


NICS = (
    "<interface type='bridge'><mac address='52:54:00:00:00:01'/><target dev='vnet0'/></interface>"
    "<interface type='bridge'><mac address='52:54:00:00:00:02'/><target dev='vnet1'/>"
    "<filterref filter='clean-traffic'/></interface>"
    "<interface type='bridge'><mac address='52:54:00:00:00:03'/></interface>"
)


def test_assignments_by_mac_and_default() -> None:
    meta = format_assignments(
        [
            Assignment("clean-traffic", make_params({"IP": ("10.0.0.5",)}), "52:54:00:00:00:01"),
            Assignment("no-mac-spoofing", ()),
        ]
    )
    dom = parse_domain(domain_xml(meta, NICS), active=True)
    assert dom.uuid == UUID(UUID_A)
    bindings = {b.portdev: b for b in dom.bindings()}
    assert set(bindings) == {"vnet0", "vnet1"}  # the third NIC has no port yet
    assert bindings["vnet0"].filterref.filter == "clean-traffic"
    assert bindings["vnet0"].filterref.param_dict() == {"IP": ("10.0.0.5",)}
    assert bindings["vnet1"].filterref.filter == "no-mac-spoofing"
    assert bindings["vnet0"].owner.name == "web" and str(bindings["vnet0"].mac) == "52:54:00:00:00:01"
    assert [n.portdev for n in dom.double_filtered()] == ["vnet1"]
    assert parse_domain(domain_xml(meta, NICS), active=False).bindings() == []


def test_no_metadata_binds_nothing_and_leaves_filterrefs_to_libvirt() -> None:
    dom = parse_domain(domain_xml("<other xmlns='urn:x'/>", NICS), active=True)
    assert dom.bindings() == []
    assert [n.portdev for n in dom.left_to_libvirt()] == ["vnet1"]


def test_metadata_as_virsh_returns_it_without_a_prefix_parses_the_same() -> None:
    bare = format_assignments([Assignment("allow-arp", ())], prefix=None)
    assert bare == '<filters>\n  <interface filter="allow-arp"/>\n</filters>'
    namespaced = bare.replace("<filters>", '<filters xmlns="https://guestwall.dev/xmlns/libvirt/1">')
    dom = parse_domain(domain_xml(namespaced, NICS), active=True)
    assert {b.filterref.filter for b in dom.bindings()} == {"allow-arp"}


@pytest.mark.parametrize(
    "meta, message",
    [
        ('<gw:port xmlns:gw="https://guestwall.dev/xmlns/libvirt/1"/>', "must be <filters>"),
        (
            '<gw:filters xmlns:gw="https://guestwall.dev/xmlns/libvirt/1"><gw:interface/></gw:filters>',
            "without a filter",
        ),
        (
            '<gw:filters xmlns:gw="https://guestwall.dev/xmlns/libvirt/1">'
            '<gw:interface mac="nope" filter="x"/></gw:filters>',
            "'nope' is not a MAC address",
        ),
    ],
)
def test_bad_metadata_names_the_domain(meta: str, message: str) -> None:
    with pytest.raises(BindingError, match=message) as info:
        parse_domain(domain_xml(meta, NICS), active=True)
    assert "domain 'web'" in str(info.value)
