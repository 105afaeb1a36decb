"""simulate and the kernel agree: the same packets, described in words and sent as forged frames."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gw import Guestwall

from guestwall.instantiate import instantiate
from guestwall.lab import Lab
from guestwall.lab.traffic import frames, probe
from guestwall.nwfilter import parse_binding
from guestwall.services.filters import load_filters
from guestwall.simulate import parse_packet, simulate
from guestwall.store import open_store
from netns_fixtures import needs_netns

pytestmark = needs_netns

WEB = """<filter name='web' chain='root'>
  <filterref filter='clean-traffic'/>
  <rule action='accept' direction='in' priority='500'><tcp dstportstart='80' dstportend='81'/></rule>
  <rule action='drop' direction='in' priority='600'><tcp/></rule>
  <rule action='reject' direction='in' priority='600'><udp dstportstart='53'/></rule>
</filter>
"""


@pytest.fixture(scope="module")
def gw(lab_module: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Guestwall]:
    work = tmp_path_factory.mktemp("simulate")
    g = Guestwall(lab_module, work / "gw.db", work)
    g.define(WEB)
    g.bind([lab_module["bob"]], "web")
    g.bind([lab_module["eve"], lab_module["alice"]], "clean-traffic")
    yield g


def program(gw: Guestwall, portdev: str):  # type: ignore[no-untyped-def]
    store = open_store(gw.url)
    try:
        with store.read() as reader:
            record = reader.binding(portdev)
            assert record is not None
            return instantiate(parse_binding(record.xml), load_filters(reader))
    finally:
        store.close()


def test_outbound_frames_of_eve(gw: Guestwall) -> None:
    lab = gw.lab
    eve, alice, carol = lab["eve"], lab["alice"], lab["carol"]
    cases = [
        (
            frames.udp4(eve.mac, alice.mac, ip_src=eve.ipv4, ip_dst=alice.ipv4),
            f"smac={eve.mac} src={eve.ipv4} dst={alice.ipv4} udp dport=40000",
        ),
        (
            frames.udp4(eve.mac, alice.mac, ip_src=carol.ipv4, ip_dst=alice.ipv4),
            f"smac={eve.mac} src={carol.ipv4} dst={alice.ipv4} udp",
        ),
        (
            frames.udp4(carol.mac, alice.mac, ip_src=eve.ipv4, ip_dst=alice.ipv4),
            f"smac={carol.mac} src={eve.ipv4} dst={alice.ipv4} udp",
        ),
        (
            frames.arp(eve.mac, op="who-has", psrc=eve.ipv4, pdst=alice.ipv4),
            f"smac={eve.mac} arp op=request spa={eve.ipv4} tpa={alice.ipv4}",
        ),
        (
            frames.arp(eve.mac, op="is-at", psrc=alice.ipv4, pdst=carol.ipv4, dst=carol.mac),
            f"smac={eve.mac} arp op=reply spa={alice.ipv4} tpa={carol.ipv4}",
        ),
        (
            frames.arp(eve.mac, op="who-has", psrc=eve.ipv4, pdst=alice.ipv4, hwsrc=carol.mac),
            f"smac={eve.mac} arp op=request sha={carol.mac} spa={eve.ipv4} tpa={alice.ipv4}",
        ),
        (
            frames.dhcp_discover(eve.mac),
            f"smac={eve.mac} src=0.0.0.0 dst=255.255.255.255 udp sport=68 dport=67",
        ),
        (frames.eth(eve.mac, ethertype=0x88B5), f"smac={eve.mac} type=0x88b5"),
        (
            frames.udp4(eve.mac, alice.mac, ip_src=eve.ipv4, ip_dst=alice.ipv4, vlan=5),
            f"smac={eve.mac} type=vlan vlan=5",
        ),
        (frames.eth(eve.mac, ethertype=0x0835), f"smac={eve.mac} type=0x0835"),
        (
            frames.ip6(eve.mac, alice.mac, ip_src=eve.ipv6, ip_dst=alice.ipv6),
            f"smac={eve.mac} src={eve.ipv6} dst={alice.ipv6}",
        ),
    ]
    got = probe(lab, "eve", [f for f, _ in cases], receivers=["br0"])
    seen = {f.index for f in got["br0"]}
    prog = program(gw, eve.portdev)
    for i, (_, description) in enumerate(cases):
        verdict = simulate(prog, "out", parse_packet(description)).verdict
        assert (verdict == "accept") == (i in seen), (description, verdict, i in seen)


def test_inbound_frames_to_bob(gw: Guestwall) -> None:
    lab = gw.lab
    alice, bob = lab["alice"], lab["bob"]
    cases = []
    for proto, port in (("tcp", 80), ("tcp", 81), ("tcp", 82), ("tcp", 22), ("udp", 53), ("udp", 54)):
        make = frames.tcp4 if proto == "tcp" else frames.udp4
        cases.append(
            (
                make(alice.mac, bob.mac, ip_src=alice.ipv4, ip_dst=bob.ipv4, dport=port),
                f"smac={alice.mac} dmac={bob.mac} src={alice.ipv4} dst={bob.ipv4} {proto} dport={port} state=new",
            )
        )
    got = probe(lab, "alice", [f for f, _ in cases], receivers=["bob"])
    seen = {f.index for f in got["bob"]}
    prog = program(gw, bob.portdev)
    for i, (_, description) in enumerate(cases):
        verdict = simulate(prog, "in", parse_packet(description)).verdict
        assert (verdict == "accept") == (i in seen), (description, verdict, i in seen)
    assert seen == {0, 1, 5}
