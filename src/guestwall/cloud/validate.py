"""User input for the cloud layer -> model values, or one clear error line (CloudInputError) saying what is
wrong and what is expected. Nothing here touches the store: services validate before they write anything.
"""

from __future__ import annotations

import re
from dataclasses import replace
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Any

from guestwall.errors import CloudError, ConflictError, InUseError, NotFoundError
from guestwall.model.cloud import (
    ICMP_PROTOCOLS,
    PORT_PROTOCOLS,
    PROTOCOL_NUMBERS,
    Address,
    Ethertype,
    Network,
    Port,
    RuleDirection,
)
from guestwall.model.ifname import ifname_problem
from guestwall.model.mac import MacAddress


class CloudInputError(CloudError):
    """Invalid cloud input; printed as it is (no libvirt error-code phrase)."""

    code = ""


class CloudNotFound(NotFoundError):
    code = ""


class CloudConflict(ConflictError):
    code = ""


class CloudInUse(InUseError):
    code = ""


_PROTOCOL_ALIASES = {"ipv6-icmp": "icmpv6", "icmp6": "icmpv6"}


def network(text: str, what: str = "CIDR") -> Network:
    """A network in CIDR notation (an address alone is a host network); host bits must be clear."""
    text = text.strip()
    try:
        return ip_network(text)
    except ValueError:
        pass
    try:
        loose = ip_network(text, strict=False)
    except ValueError:
        raise CloudInputError(
            f"invalid {what} '{text}': expected an IPv4 or IPv6 network such as 10.0.0.0/24 or 2001:db8::/64"
        ) from None
    raise CloudInputError(f"invalid {what} '{text}': host bits are set (did you mean {loose}?)")


def address(text: str, what: str = "IP address") -> Address:
    try:
        return ip_address(text.strip())
    except ValueError:
        raise CloudInputError(f"invalid {what} '{text}': expected an IPv4 or IPv6 address") from None


def fixed_ip(text: str) -> Address:
    addr = address(text, "fixed IP")
    if addr.is_multicast or addr.is_unspecified or addr.is_loopback:
        raise CloudInputError(f"invalid fixed IP '{text}': not a unicast address")
    if addr.version == 6 and addr.is_link_local:
        raise CloudInputError(f"invalid fixed IP '{text}': the link-local address comes from the MAC")
    return addr


def mac(text: str | MacAddress) -> MacAddress:
    """A port's MAC: six bytes of two hex digits joined by ':' (or all by '-'), unicast and not zero."""
    parsed = text if isinstance(text, MacAddress) else _mac_text(text)
    if parsed is None:
        raise CloudInputError(
            f"invalid MAC address '{text}': expected six hex bytes such as 52:54:00:12:34:56"
        )
    if parsed.is_multicast:
        raise CloudInputError(f"invalid MAC address '{text}': a multicast address cannot be a port's MAC")
    if parsed.is_zero:
        raise CloudInputError(f"invalid MAC address '{text}': all zeros")
    return parsed


def _mac_text(text: str) -> MacAddress | None:
    stripped = text.strip()
    if len(stripped) != 17 or ("-" in stripped and ":" in stripped):
        return None  # 17 characters: every byte has its two digits, as Neutron writes them
    return MacAddress.parse(stripped.replace("-", ":"))


def device(text: object) -> str:
    if not isinstance(text, str):
        raise CloudInputError(f"invalid device name {text!r}: expected an interface name (a string)")
    problem = ifname_problem(text)
    if problem:
        raise CloudInputError(f"invalid device name '{text}': not an interface name ({problem})")
    return text


def port_range(text: str) -> tuple[int, int]:
    """``N``, ``N:M`` or ``N-M``, ports 1..65535, N <= M."""
    parts = re.split(r"[:-]", text.strip())
    if len(parts) > 2 or not all(p.isdigit() for p in parts):
        raise CloudInputError(f"invalid port range '{text}': expected PORT or MIN:MAX, e.g. 22 or 8000:8080")
    lo, hi = int(parts[0]), int(parts[-1])
    for port in (lo, hi):
        if not 1 <= port <= 65535:
            raise CloudInputError(f"invalid port range '{text}': ports are 1 to 65535")
    if lo > hi:
        raise CloudInputError(f"invalid port range '{text}': the first port is above the last")
    return lo, hi


def direction(text: str) -> RuleDirection:
    try:
        return RuleDirection(text.strip().lower())
    except ValueError:
        raise CloudInputError(f"invalid direction '{text}': expected ingress or egress") from None


def ethertype(text: str) -> Ethertype:
    for candidate in Ethertype:
        if text.strip().lower() == candidate.value.lower():
            return candidate
    raise CloudInputError(f"invalid ethertype '{text}': expected IPv4 or IPv6")


def protocol(text: str | None, ether: Ethertype) -> str | None:
    """A protocol name or number as a canonical name; None (any) for ``any``/empty. ICMP follows the
    ethertype (icmp with IPv6 is ICMPv6, as in Neutron)."""
    if text is None or text.strip().lower() in ("", "any", "all"):
        return None
    name = text.strip().lower()
    name = _PROTOCOL_ALIASES.get(name, name)
    if name.isdigit():
        number = int(name)
        if not 0 <= number <= 255:
            raise CloudInputError(f"invalid protocol '{text}': protocol numbers are 0 to 255")
        by_number = {n: p for p, n in PROTOCOL_NUMBERS.items()}
        if number not in by_number:
            known = ", ".join(f"{p} ({n})" for p, n in PROTOCOL_NUMBERS.items())
            raise CloudInputError(
                f"unsupported protocol {number}: nwfilter's layer-3 rules can express {known} or any"
            )
        name = by_number[number]
    if name not in PROTOCOL_NUMBERS:
        raise CloudInputError(
            f"invalid protocol '{text}': expected any, {', '.join(PROTOCOL_NUMBERS)} or one of their numbers"
        )
    if ether is Ethertype.IPV6:
        if name == "igmp":
            raise CloudInputError(
                "invalid protocol 'igmp' for IPv6 (IGMP is IPv4 only; IPv6 uses MLD in ICMPv6)"
            )
        return "icmpv6" if name == "icmp" else name
    if name == "icmpv6":
        raise CloudInputError("invalid protocol 'icmpv6' for IPv4: use icmp, or ethertype IPv6")
    return name


def icmp_value(text: str | int | None, what: str) -> int | None:
    """An ICMP type or code 0..255; None, ``any`` or -1 (Neutron's wildcard) mean any."""
    if text is None:
        return None
    raw = str(text).strip().lower()
    if raw in ("", "any", "-1"):
        return None
    if not raw.isdigit() or not 0 <= int(raw) <= 255:
        raise CloudInputError(f"invalid ICMP {what} '{text}': expected 0 to 255 or any")
    return int(raw)


def checked_rule_fields(
    proto: str | None,
    ports: tuple[int, int] | None,
    icmp_type: int | None,
    icmp_code: int | None,
    remote_cidr: Network | None,
    remote_group: str | None,
    ether: Ethertype,
) -> None:
    """The combinations Neutron refuses, each with its reason."""
    if ports is not None and proto not in PORT_PROTOCOLS:
        raise CloudInputError(
            f"a port range needs protocol tcp, udp or sctp (the rule's protocol is {proto or 'any'})"
        )
    if (icmp_type is not None or icmp_code is not None) and proto not in ICMP_PROTOCOLS:
        raise CloudInputError(
            f"ICMP type and code need protocol icmp (the rule's protocol is {proto or 'any'})"
        )
    if icmp_code is not None and icmp_type is None:
        raise CloudInputError(f"ICMP code {icmp_code} is given but no ICMP type: a code needs its type")
    if remote_cidr is not None and remote_group is not None:
        raise CloudInputError("a rule has a remote IP prefix or a remote group, not both")
    if remote_cidr is not None and remote_cidr.version != ether.version:
        family = "IPv4" if isinstance(remote_cidr, IPv4Network) else "IPv6"
        raise CloudInputError(
            f"remote IP prefix {remote_cidr} is {family} but the rule's ethertype is {ether.value}"
        )


# ---- whole objects: what every way in (CLI, Python API, REST) passes through before the store ----------


def _text(value: object, what: str, *, empty: bool = True) -> str:
    if not isinstance(value, str):
        raise CloudInputError(f"invalid {what} {value!r}: expected a string")
    if not empty and not value.strip():
        raise CloudInputError(f"invalid {what}: it is empty")
    return value


def _typed_address(value: object) -> Address:
    if isinstance(value, IPv4Address | IPv6Address):
        return fixed_ip(str(value))
    if isinstance(value, str):
        return fixed_ip(value)
    raise CloudInputError(f"invalid fixed IP {value!r}: expected an IPv4 or IPv6 address")


def checked_network(value: object, what: str) -> Network:
    if isinstance(value, IPv4Network | IPv6Network):
        return value
    if isinstance(value, str):
        return network(value, what)
    raise CloudInputError(f"invalid {what} {value!r}: expected an IPv4 or IPv6 network")


def _sequence(value: object, what: str) -> tuple[object, ...]:
    if isinstance(value, str) or not isinstance(value, tuple | list | frozenset | set):
        raise CloudInputError(f"invalid {what} {value!r}: expected a list")
    return tuple(value)


def _flag(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise CloudInputError(f"invalid {what} {value!r}: expected true or false")
    return value


def checked_port(port: Port) -> Port:
    """A port with every field checked and made canonical (MAC lowercase, addresses typed), as the CLI
    parses them; raises CloudInputError naming the field. Groups are resolved later, against the store."""
    return replace(
        port,
        id=_text(port.id, "port id"),
        device=device(port.device),
        mac=mac(port.mac if isinstance(port.mac, MacAddress) else _text(port.mac, "MAC address")),
        project=_text(port.project, "project", empty=False),
        name=_text(port.name, "port name"),
        fixed_ips=tuple(_typed_address(a) for a in _sequence(port.fixed_ips, "fixed IPs")),
        allowed_address_pairs=tuple(
            checked_network(n, "allowed address pair")
            for n in _sequence(port.allowed_address_pairs, "allowed address pairs")
        ),
        security_groups=tuple(
            _text(g, "security group", empty=False)
            for g in _sequence(port.security_groups, "security groups")
        ),
        port_security=_flag(port.port_security, "port security"),
        dhcp_server=_flag(port.dhcp_server, "dhcp server"),
        device_id=_text(port.device_id, "device id"),
    )


def checked_ports(value: object, what: str = "port range") -> tuple[int, int] | None:
    """A port range given as a (min, max) pair of ints or as text; None stays None (any port)."""
    if value is None:
        return None
    if isinstance(value, str):
        return port_range(value)
    if (
        not isinstance(value, tuple | list)
        or len(value) != 2
        or not all(isinstance(p, int) and not isinstance(p, bool) for p in value)
    ):
        raise CloudInputError(f"invalid {what} {value!r}: expected (min, max) with ports 1 to 65535")
    return port_range(f"{value[0]}:{value[1]}")


def checked_icmp(value: object, what: str) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | str | None):
        raise CloudInputError(f"invalid ICMP {what} {value!r}: expected 0 to 255 or any")
    return icmp_value(value, what)


def checked_enum(value: object, kind: type[RuleDirection] | type[Ethertype], what: str) -> Any:
    if isinstance(value, kind):
        return value
    if isinstance(value, str):
        return direction(value) if kind is RuleDirection else ethertype(value)
    raise CloudInputError(f"invalid {what} {value!r}")


def checked_protocol(value: object, ether: Ethertype) -> str | None:
    if value is not None and not isinstance(value, str | int):
        raise CloudInputError(f"invalid protocol {value!r}: expected a name or a number")
    return protocol(None if value is None else str(value), ether)
