"""Differences from libvirt 9.0 found with real frames, each listed in docs/compatibility.md (issue 10):
libvirt or kernel bugs guestwall does not copy, and where its messages say more."""

from __future__ import annotations

import uuid

import pytest

from guestwall.compile.compiler import Options, PortInput, compile_ruleset
from guestwall.dataplane.backend import RecordingBackend
from guestwall.dataplane.diff import diff
from guestwall.engine import Engine
from guestwall.errors import InstantiationError
from guestwall.instantiate import instantiate
from guestwall.model import Binding, FilterRef, MacAddress, Owner, make_params
from guestwall.nwfilter import builtin_filters, parse_filter
from guestwall.services.bindings import create_binding
from guestwall.store import open_store


def nft_of(*xmls: str) -> str:
    """The nft transaction for one port bound to the first filter (the others are what it references)."""
    defs = {f.name: f for f in builtin_filters()}
    parsed = [parse_filter(x) for x in xmls]
    for f in parsed:
        defs[f.name] = f
    binding = Binding(
        Owner("vm", uuid.UUID(int=1)),
        "vnet0",
        MacAddress(0x525400000001),
        FilterRef(parsed[0].name, make_params({})),
    )
    compiled = compile_ruleset([PortInput(instantiate(binding, defs), 1)], Options())
    return diff(compiled.ruleset, {}).text()


def rule(element: str) -> str:
    return f"<filter name='t' chain='root'><rule action='drop' direction='in'>{element}</rule></filter>"


def test_stp_fields_at_their_bpdu_offsets() -> None:
    # BPDU type is byte 3 of the BPDU, after the 14-byte Ethernet header and the 3-byte LLC header: byte 20
    # (bit 160); the kernel's stp match that libvirt uses reads one byte early
    assert "@ll,160,8 128 drop" in nft_of(rule("<stp type='0x80'/>"))
    # root priority: bytes 22-23 (flags at 21), checked in configuration BPDUs (type 0) only, as the kernel
    assert "@ll,160,8 0 ether daddr 01:80:c2:00:00:00 @ll,176,16 4096 drop" in nft_of(
        rule("<stp root-priority='0x1000'/>")
    )


def test_vlan_encap_protocol_is_the_number_written() -> None:
    # 2048 is IPv4 (0x0800); libvirt hands ebtables "2048", which it reads as hex 0x2048
    assert "vlan type 0x0800 drop" in nft_of(rule("<vlan encap-protocol='2048'/>"))
    assert "vlan type 0x0800 drop" in nft_of(rule("<vlan encap-protocol='0x800'/>"))


def test_two_filters_with_one_chain_name_merge() -> None:
    top = "<filter name='top' chain='root'><filterref filter='c1'/><filterref filter='c2'/></filter>"
    c1 = "<filter name='c1' chain='ipv4-x' priority='-700'><rule action='accept' direction='in'><ip protocol='udp'/></rule></filter>"
    c2 = "<filter name='c2' chain='ipv4-x' priority='-600'><rule action='drop' direction='in'><ip protocol='tcp'/></rule></filter>"
    text = nft_of(top, c1, c2)
    assert "ip protocol 17 accept" in text and "ip protocol 6 drop" in text  # libvirt fails to bind


def test_negated_protocol_with_a_port_is_enforced() -> None:
    # ebtables refuses this at binding time; guestwall enforces both negations
    text = nft_of(rule("<ip match='no' protocol='tcp' dstportstart='22'/>"))
    assert "ip protocol != 6 th dport != 22 drop" in text


def test_binding_errors_keep_the_code_phrase_and_say_where(tmp_path: pytest.TempPathFactory) -> None:
    from guestwall.services.filters import define_filter

    store = open_store(f"sqlite:///{tmp_path}/gw.db")
    try:
        define_filter(store, rule("<tcp dstportstart='$PORT'/>").replace("name='t'", "name='needs-port'"))
        xml = (
            "<filterbinding><owner><name>vm</name><uuid>00000000-0000-4000-8000-000000000001</uuid></owner>"
            "<portdev name='vnet0'/><mac address='52:54:00:00:00:01'/>"
            "<filterref filter='needs-port'/></filterbinding>"
        )
        with pytest.raises(InstantiationError) as caught:
            create_binding(store, xml, Engine(RecordingBackend()))
    finally:
        store.close()
    text = caught.value.virsh_text()
    assert text.startswith("internal error: binding vnet0: Cannot instantiate filter")
    assert text.endswith("unavailable list elements: PORT (filter needs-port)")
