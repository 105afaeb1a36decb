"""LabSpec naming and addressing rules (pure: no namespaces needed)."""

from __future__ import annotations

import pytest

from guestwall.errors import LabError
from guestwall.lab.spec import LabSpec, guest_mac, port_mac, spec_lab


def test_default_names_then_numbered() -> None:
    spec = LabSpec(guests=7)
    assert spec.guest_names() == ("alice", "bob", "carol", "dave", "eve", "g6", "g7")


def test_custom_names_are_filled_with_defaults() -> None:
    spec = LabSpec(guests=3, names=("web",))
    assert spec.guest_names() == ("web", "bob", "carol")
    assert spec == LabSpec(guests=3, names=("web", "bob", "carol"))


def test_guest_layout() -> None:
    lab = spec_lab(LabSpec(prefix="gwlab", guests=12))
    alice, g12 = lab["alice"], lab["g12"]
    assert (alice.netns, alice.portdev, alice.mac, alice.ipv4, alice.ipv6) == (
        "gwlab-alice",
        "vnet0",
        "52:54:00:00:00:01",
        "10.77.0.10",
        "fd77::10",
    )
    assert (g12.portdev, g12.mac) == ("vnet11", "52:54:00:00:00:0c")
    assert (g12.ipv4, g12.ipv6) == ("10.77.0.21", "fd77::21")
    assert (lab.host_netns, lab.bridge_ipv4, lab.bridge_ipv6) == ("gwlab-host", "10.77.0.1", "fd77::1")
    assert lab.namespaces()[:2] == ["gwlab-host", "gwlab-alice"]


def test_macs_beyond_255_guests_and_port_macs() -> None:
    assert guest_mac(255) == "52:54:00:00:01:00"
    assert port_mac(0) == "fe:54:00:00:00:01"


def test_other_subnets() -> None:
    lab = spec_lab(LabSpec(guests=2, subnet="192.168.5.0/24", subnet6="fd00:5::/64"))
    assert (lab["bob"].ipv4, lab["bob"].ipv6) == ("192.168.5.11", "fd00:5::11")
    assert (lab.bridge_ipv4, lab.bridge_ipv6) == ("192.168.5.1", "fd00:5::1")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"prefix": "GW"}, "invalid lab prefix"),
        ({"prefix": "a-b"}, "invalid lab prefix"),
        ({"guests": -1}, "invalid number of guests"),
        ({"guests": 246}, "do not fit"),
        ({"subnet": "10.77.0.0/33"}, "invalid lab subnet"),
        ({"guests": 1, "names": ("a", "b")}, "2 guest names given for 1 guests"),
        ({"guests": 2, "names": ("host",)}, "invalid guest name"),
        ({"guests": 2, "names": ("bob",)}, "duplicate guest names"),
    ],
)
def test_invalid_specs(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(LabError, match=message):
        LabSpec(**kwargs)  # type: ignore[arg-type]


def test_largest_lab_fits() -> None:
    assert spec_lab(LabSpec(guests=245)).guests[-1].ipv4 == "10.77.0.254"


def test_unknown_guest() -> None:
    with pytest.raises(LabError, match="no guest 'mallory'"):
        spec_lab(LabSpec(guests=2)).guest("mallory")
