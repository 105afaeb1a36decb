"""User input for the cloud layer -> model values, or one clear error line (CloudInputError) saying what is
wrong and what is expected. Nothing here touches the store: services validate before they write anything.
"""

from __future__ import annotations

import re
from ipaddress import IPv4Network, ip_address, ip_network

from guestwall.errors import CloudError, ConflictError, InUseError, NotFoundError
from guestwall.model.cloud import (
    ICMP_PROTOCOLS,
    PORT_PROTOCOLS,
    PROTOCOL_NUMBERS,
    Address,
    Ethertype,
    Network,
    RuleDirection,
)


class CloudInputError(CloudError):
    """Invalid cloud input; printed as it is (no libvirt error-code phrase)."""

    code = ""


class CloudNotFound(NotFoundError):
    code = ""


class CloudConflict(ConflictError):
    code = ""


class CloudInUse(InUseError):
    code = ""


_MAC_RE = re.compile(r"^[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(\1[0-9a-fA-F]{2}){4}$")
_DEVICE_RE = re.compile(r"^[^\s/:]{1,15}$")
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


def mac(text: str) -> str:
    if not _MAC_RE.match(text.strip()):
        raise CloudInputError(
            f"invalid MAC address '{text}': expected six hex bytes such as 52:54:00:12:34:56"
        )
    canonical = text.strip().lower().replace("-", ":")
    if int(canonical[:2], 16) & 1:
        raise CloudInputError(f"invalid MAC address '{text}': a multicast address cannot be a port's MAC")
    if canonical == "00:00:00:00:00:00":
        raise CloudInputError(f"invalid MAC address '{text}': all zeros")
    return canonical


def device(text: str) -> str:
    if not _DEVICE_RE.match(text):
        raise CloudInputError(
            f"invalid device name '{text}': expected an interface name (1-15 characters, no space, '/', ':')"
        )
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
