"""The interim rules while an address is learned, as libvirt 9.0 installs them (golden ebtables rules in
tests/golden/libvirt/rules/ip-learning-*), checked with the simulator on the same program the kernel gets;
and how enforcement picks them (only IP missing, CTRL_IP_LEARNING any/dhcp/none, learned addresses)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import pytest

from guestwall.engine.desired import BoundPort, build_desired
from guestwall.errors import InstantiationError
from guestwall.instantiate.learning import LearningMode, drop_all_program, interim_program, learning_mode
from guestwall.model import Binding, FilterRef, MacAddress, make_params
from guestwall.model.binding import Owner
from guestwall.nwfilter import builtin_filters
from guestwall.simulate import parse_packet, simulate
from guestwall.store.records import BindingRecord

MAC = "52:54:00:00:00:04"


def binding(
    params: dict[str, tuple[str, ...]] | None = None, filter_name: str = "clean-traffic", dev: str = "vnet3"
) -> Binding:
    values = {"MAC": (MAC,), **(params or {})}
    return Binding(Owner("vm", UUID(int=1)), dev, MacAddress(0x525400000004), FilterRef(filter_name, make_params(values)))


def verdict(program: object, direction: str, packet: str) -> str:
    return simulate(program, direction, parse_packet(packet)).verdict  # type: ignore[arg-type]


def test_any_basic_rules() -> None:
    program = interim_program(binding(), LearningMode.ANY)
    assert verdict(program, "out", f"smac={MAC} src=10.9.9.9 dst=10.77.0.10 udp dport=53") == "accept"
    assert verdict(program, "out", f"smac={MAC} arp op=reply spa=10.77.0.10") == "accept"
    assert verdict(program, "out", f"smac={MAC} ip6 src=fd77::1 dst=fd77::2") == "drop"
    assert verdict(program, "out", f"smac={MAC} type=0x88b5") == "drop"
    assert verdict(program, "out", "smac=52:54:00:00:00:09 src=10.77.0.13 dst=10.77.0.10 udp") == "drop"
    assert verdict(program, "in", "smac=52:54:00:00:00:09 ip6 src=fd77::1 dst=fd77::2") == "accept"


@pytest.mark.parametrize("servers", [(), ("10.77.0.1", "10.77.0.2")])
def test_dhcp_only_rules(servers: tuple[str, ...]) -> None:
    params = {"CTRL_IP_LEARNING": ("dhcp",), **({"DHCPSERVER": servers} if servers else {})}
    program = interim_program(binding(params), LearningMode.DHCP)
    discover = f"smac={MAC} dmac=ff:ff:ff:ff:ff:ff src=0.0.0.0 dst=255.255.255.255 udp sport=68 dport=67"
    assert verdict(program, "out", discover) == "accept"
    assert verdict(program, "out", discover.replace(MAC, "52:54:00:00:00:09")) == "drop"
    assert verdict(program, "out", f"smac={MAC} src=10.77.0.13 dst=10.77.0.10 udp sport=1 dport=2") == "drop"
    assert verdict(program, "out", f"smac={MAC} arp op=request spa=10.77.0.13") == "drop"
    for dmac in (MAC, "ff:ff:ff:ff:ff:ff"):
        offer = f"dmac={dmac} src=10.77.0.2 dst=255.255.255.255 udp sport=67 dport=68"
        assert verdict(program, "in", offer) == "accept"
        rogue = offer.replace("10.77.0.2", "10.77.0.66")
        assert verdict(program, "in", rogue) == ("drop" if servers else "accept")
    assert (
        verdict(program, "in", "dmac=52:54:00:00:00:09 src=10.77.0.2 dst=10.77.0.9 udp sport=67 dport=68")
        == "drop"
    )
    assert (
        verdict(program, "in", f"dmac={MAC} src=10.77.0.10 dst=10.77.0.13 tcp sport=22 dport=4000") == "drop"
    )
    assert verdict(program, "in", f"dmac={MAC} arp op=reply spa=10.77.0.10") == "drop"


def test_drop_all() -> None:
    program = drop_all_program("vnet3", MAC, "clean-traffic")
    assert verdict(program, "out", f"smac={MAC} src=10.77.0.13 dst=10.77.0.10 udp") == "drop"
    assert verdict(program, "in", f"dmac={MAC} arp op=reply") == "drop"


def test_learning_values() -> None:
    assert learning_mode(binding()) is LearningMode.ANY
    assert learning_mode(binding({"CTRL_IP_LEARNING": ("none",)})) is LearningMode.NONE
    with pytest.raises(InstantiationError) as e:
        learning_mode(binding({"CTRL_IP_LEARNING": ("sometimes",)}))
    assert (
        e.value.virsh_text()
        == "failed to parse configuration file filter 'clean-traffic' learning value 'sometimes' invalid."
    )


def _port(b: Binding, port_id: int, learned: tuple[str, ...] = ()) -> BoundPort:
    return BoundPort(BindingRecord(b.portdev, port_id, b.filterref.filter, "", datetime.now(UTC)), b, learned)


def test_enforcement_picks_interim_rules_only_when_ip_alone_is_missing() -> None:
    filters = {f.name: f for f in builtin_filters()}
    learning = _port(binding(dev="vnet3"), 1)
    dhcp = _port(binding({"CTRL_IP_LEARNING": ("dhcp",), "DHCPSERVER": ("10.77.0.1",)}, dev="vnet4"), 2)
    learned = _port(binding(dev="vnet5"), 3, ("10.77.0.15",))
    given = _port(binding({"IP": ("10.77.0.16",)}, dev="vnet6"), 4)
    desired = build_desired(filters, [learning, dhcp, learned, given])
    assert desired.learning["vnet3"].interim and desired.learning["vnet3"].snoop
    assert desired.learning["vnet4"].interim and desired.learning["vnet4"].servers == ("10.77.0.1",)
    assert (
        not desired.learning["vnet5"].interim and not desired.learning["vnet5"].snoop
    )  # any: first address only
    assert "vnet6" not in desired.learning
    assert desired.programs["vnet3"].group.startswith("learn-any")
    assert desired.programs["vnet4"].group.startswith("learn-dhcp")
    assert desired.programs["vnet5"].group.startswith("clean-traffic")

    none = _port(binding({"CTRL_IP_LEARNING": ("none",)}, dev="vnet7"), 5)
    with pytest.raises(InstantiationError, match=r"binding vnet7: .*unresolvable variables .*: IP"):
        build_desired(filters, [none])
    other = _port(binding(filter_name="clean-traffic-gateway", dev="vnet8"), 6)  # needs IP and GATEWAY_MAC
    with pytest.raises(InstantiationError, match="GATEWAY_MAC"):
        build_desired(filters, [other])
    # not strict (the agent): a port that cannot be instantiated is dropped, never left open
    desired = build_desired(filters, [none, other, given], strict=False)
    assert set(desired.failures) == {"vnet7", "vnet8"}
    dispatch = desired.compiled.ruleset.table("bridge").sets["l2out"].elements
    assert dispatch[("vnet7",)] == ("goto", dispatch[("vnet7",)][1])  # type: ignore[index]
    assert "drop-all" in str(dispatch[("vnet7",)])
