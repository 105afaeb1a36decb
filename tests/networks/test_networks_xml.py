"""Network XML against libvirt 9.0's recorded answers (tests/golden/libvirt/networks/cases)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from guestwall.errors import NetworkError, XMLError
from guestwall.networks.xml import format_network, parse_network

CASES = Path(__file__).resolve().parents[1] / "golden" / "libvirt" / "networks" / "cases"
# guestwall accepts these on purpose (see docs/networks.md): libvirt 9.0 refuses <vlan> on a Linux bridge,
# 11.0 accepts it
DEVIATIONS = {"portgroup-vlan"}
AUTOFILLED = {"autofill", "autofill-isolated"}


def _cases(kind: str) -> list[str]:
    return sorted(d.name for d in CASES.iterdir() if (d / kind).exists() and d.name not in DEVIATIONS)


@pytest.mark.parametrize("case", _cases("expected.xml"))
def test_dumpxml_is_byte_identical(case: str) -> None:
    expected = (CASES / case / "expected.xml").read_text()
    net = parse_network((CASES / case / "input.xml").read_bytes())
    if case in AUTOFILLED:
        from guestwall.networks.defaults import fill_defaults

        net = fill_defaults(net, taken_bridges=set())
        expected = re.sub(r"<uuid>[^<]*</uuid>", f"<uuid>{net.uuid}</uuid>", expected)
        expected = re.sub(r"<mac address='[^']*'/>", f"<mac address='{net.mac}'/>", expected)
    assert format_network(net) + "\n" == expected
    again = parse_network(format_network(net))
    assert again == net


@pytest.mark.parametrize("case", _cases("error.txt"))
def test_refused_with_libvirts_message(case: str) -> None:
    text = (CASES / case / "error.txt").read_text().splitlines()[1].removeprefix("error: ")
    with pytest.raises((NetworkError, XMLError)) as info:
        parse_network((CASES / case / "input.xml").read_bytes())
    if isinstance(info.value, NetworkError):
        assert info.value.virsh_text() == text


def test_vlan_portgroups_are_accepted() -> None:
    net = parse_network((CASES / "portgroup-vlan" / "input.xml").read_bytes())
    assert [pg.vlan_tags for pg in net.portgroups] == [(10,), (20,)]
    assert parse_network(format_network(net)) == net
