"""Rule programs for ports that cannot have their filter yet: IP address learning and fail-closed drop.

libvirt (reference §2.6) instantiates a binding whose only unresolved variable is ``IP`` by installing
interim rules and learning the address from the guest's traffic (nwfilter_learnipaddr.c) or by DHCP
snooping (nwfilter_dhcpsnoop.c), chosen by the binding's ``CTRL_IP_LEARNING``. The interim rules below have
the shape of the ebtables rules libvirt 9.0 installs (tests/golden/libvirt/rules/ip-learning-*/ebtables.txt):

- ``any`` (applyBasicRules): from the guest, drop frames whose source is not ``$MAC``, accept IPv4 and ARP,
  drop the rest; nothing is restricted toward the guest.
- ``dhcp`` (applyDHCPOnlyRules): from the guest only UDP 68->67 from ``$MAC``; to the guest only UDP 67->68
  (from each ``DHCPSERVER``, or from anyone when none is given) sent to ``$MAC`` or to broadcast.

A port that cannot be instantiated at all gets the drop-all program (libvirt's applyDropAllRules).
Per-port values are holes, so every port in the same interim state shares one set of kernel chains.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from ipaddress import IPv4Address

from guestwall.errors import InstantiationError
from guestwall.instantiate.fields import Field, Shape
from guestwall.instantiate.program import (
    ChainProgram,
    Check,
    HoleShape,
    Origin,
    PortProgram,
    ProgramRule,
    ProgramVerdict,
    Stage,
    Value,
)
from guestwall.model import Binding
from guestwall.model.mac import BROADCAST, MacAddress

LEARNING_VAR = "CTRL_IP_LEARNING"
DHCPSERVER_VAR = "DHCPSERVER"
BROADCAST_MAC = BROADCAST

_IPV4 = Check(Field.ETHER_TYPE, Value(0x0800))
_ARP = Check(Field.ETHER_TYPE, Value(0x0806))
_UDP = Check(Field.IP_PROTO, Value(17))
# the shapes instantiation gives $MAC and $DHCPSERVER, so the same value sets are reused
_MAC_HOLE = HoleShape(Shape.VALUE, ("$MAC",))
_SERVER_HOLE = HoleShape(Shape.VALUE, ("$DHCPSERVER",))


class LearningMode(enum.StrEnum):
    ANY = "any"
    DHCP = "dhcp"
    NONE = "none"


class LearningValueError(InstantiationError):
    """libvirt 9.0: ``failed to parse configuration file filter 'NAME' learning value 'V' invalid.``"""

    code = ""


def learning_mode(binding: Binding) -> LearningMode:
    """The binding's CTRL_IP_LEARNING (first value; default ``any``); an unknown value is an error."""
    values = binding.filterref.param_dict().get(LEARNING_VAR, ())
    if not values:
        return LearningMode.ANY
    try:
        return LearningMode(values[0])
    except ValueError:
        raise LearningValueError(
            f"failed to parse configuration file filter '{binding.filterref.filter}' "
            f"learning value '{values[0]}' invalid."
        ) from None


def dhcp_servers(binding: Binding) -> tuple[IPv4Address, ...]:
    """The trusted DHCP servers (``DHCPSERVER``, a list); values that are not IPv4 addresses are an error."""
    out: list[IPv4Address] = []
    for text in binding.filterref.param_dict().get(DHCPSERVER_VAR, ()):
        try:
            address = IPv4Address(text)
        except ValueError:
            raise InstantiationError(f"DHCPSERVER value '{text}' is not an IPv4 address") from None
        if address not in out:
            out.append(address)
    return tuple(out)


def interim_program(binding: Binding, mode: LearningMode) -> PortProgram:
    """The rules a port has while its IPv4 address is being learned (``mode`` any or dhcp)."""
    if mode is LearningMode.ANY:
        return _program(binding, "learn-any", out=_any_out(binding.mac), into=())
    if mode is LearningMode.DHCP:
        servers = dhcp_servers(binding)
        group = "learn-dhcp-servers" if servers else "learn-dhcp"
        return _program(binding, group, out=_dhcp_out(binding.mac), into=_dhcp_in(binding.mac, servers))
    raise InstantiationError(f"no interim rules for learning mode {mode}")


def drop_all_program(portdev: str, mac: MacAddress, filter_name: str) -> PortProgram:
    """Everything from and to the port is dropped: a port whose filter cannot be instantiated."""
    drop = (_rule("drop-all", 1, ProgramVerdict.DROP, ()),)
    return PortProgram(
        portdev,
        mac,
        filter_name,
        "drop-all~0",
        {Stage.L2_OUT: (ChainProgram("root", drop),), Stage.L2_IN: (ChainProgram("root", drop),)},
    )


def _program(
    binding: Binding, group: str, out: Sequence[ProgramRule], into: Sequence[ProgramRule]
) -> PortProgram:
    stages: dict[Stage, tuple[ChainProgram, ...]] = {Stage.L2_OUT: (ChainProgram("root", tuple(out)),)}
    if into:
        stages[Stage.L2_IN] = (ChainProgram("root", tuple(into)),)
    return PortProgram(binding.portdev, binding.mac, binding.filterref.filter, f"{group}~0", stages)


def _rule(
    name: str,
    number: int,
    verdict: ProgramVerdict,
    checks: tuple[Check, ...],
    rows: tuple[tuple[Value, ...], ...] = (),
) -> ProgramRule:
    return ProgramRule(Origin(name, number, 0), verdict, checks, rows)


def _hole(field: Field, shape: HoleShape, negated: bool = False) -> Check:
    return Check(field, None, negated, shape)


def _any_out(mac: MacAddress) -> list[ProgramRule]:
    own = ((Value(mac),),)
    return [
        _rule("learn-any", 1, ProgramVerdict.DROP, (_hole(Field.ETHER_SRC, _MAC_HOLE, negated=True),), own),
        _rule("learn-any", 2, ProgramVerdict.ACCEPT, (_IPV4,)),
        _rule("learn-any", 3, ProgramVerdict.ACCEPT, (_ARP,)),
        _rule("learn-any", 4, ProgramVerdict.DROP, ()),
    ]


def _dhcp_out(mac: MacAddress) -> list[ProgramRule]:
    checks = (
        _IPV4,
        _hole(Field.ETHER_SRC, _MAC_HOLE),
        _UDP,
        Check(Field.L4_SPORT, Value(68)),
        Check(Field.L4_DPORT, Value(67)),
    )
    return [
        _rule("learn-dhcp", 1, ProgramVerdict.ACCEPT, checks, ((Value(mac),),)),
        _rule("learn-dhcp", 2, ProgramVerdict.DROP, ()),
    ]


def _dhcp_in(mac: MacAddress, servers: Sequence[IPv4Address]) -> list[ProgramRule]:
    ports = (_UDP, Check(Field.L4_SPORT, Value(67)), Check(Field.L4_DPORT, Value(68)))
    rules = []
    for number, dst in ((3, None), (4, BROADCAST_MAC)):
        dst_check = (
            _hole(Field.ETHER_DST, _MAC_HOLE) if dst is None else Check(Field.ETHER_DST, Value(dst))
        )
        mac_rows = [Value(mac)] if dst is None else []
        checks: tuple[Check, ...]
        if servers:
            checks = (_IPV4, dst_check, _hole(Field.IP4_SRC, _SERVER_HOLE), *ports)
            rows = tuple((*mac_rows, Value(server)) for server in servers)
        else:
            checks = (_IPV4, dst_check, *ports)
            rows = ((*mac_rows,),) if mac_rows else ()
        rules.append(_rule("learn-dhcp", number, ProgramVerdict.ACCEPT, checks, rows))
    rules.append(_rule("learn-dhcp", 5, ProgramVerdict.DROP, ()))
    return rules
