"""What a namespace lab looks like: the frozen ``LabSpec`` a caller asks for, and the ``Lab`` it gets.

Pure naming and addressing rules (no I/O); ``guestwall.lab.build`` turns a spec into namespaces and links.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from guestwall.errors import LabError

DEFAULT_PREFIX = "gwlab"
DEFAULT_NAMES = ("alice", "bob", "carol", "dave", "eve")
BRIDGE = "br0"
# Locally administered and outside 52:54:00 / fe:54:00, so it is never mistaken for a guest or a port.
BRIDGE_MAC = "02:47:57:00:00:01"
GUEST_DEV = "eth0"
FIRST_HOST = 10  # guest i is .<FIRST_HOST + i> and ::<FIRST_HOST + i> (same digits); the bridge is .1 and ::1

_PREFIX_RE = re.compile(r"^[a-z][a-z0-9]{0,15}$")
_NAME_RE = re.compile(r"^[a-z][a-z0-9]{0,15}$")


def default_names(count: int) -> tuple[str, ...]:
    """alice, bob, carol, dave, eve, then g6, g7, ... (1-based position)."""
    return tuple(DEFAULT_NAMES[i] if i < len(DEFAULT_NAMES) else f"g{i + 1}" for i in range(count))


def _host6(index: int) -> int:
    """IPv6 host part written with the IPv4 host number's decimal digits: .10 <-> ::10, .123 <-> ::123."""
    return int(str(FIRST_HOST + index), 16)


def guest_mac(index: int) -> str:
    """52:54:00 followed by index+1 in the last three bytes (52:54:00:00:00:01 for the first guest)."""
    n = index + 1
    return f"52:54:00:{(n >> 16) & 0xFF:02x}:{(n >> 8) & 0xFF:02x}:{n & 0xFF:02x}"


def port_mac(index: int) -> str:
    """Host end of a port: fe:54:00:... as libvirt does, so the bridge never adopts a port's MAC."""
    return "fe" + guest_mac(index)[2:]


@dataclass(frozen=True)
class LabSpec:
    """A lab to build: namespace prefix, guest count, IPv4 and IPv6 subnets, optional guest names."""

    prefix: str = DEFAULT_PREFIX
    guests: int = 5
    subnet: str = "10.77.0.0/24"
    subnet6: str = "fd77::/64"
    # Guest names in port order; missing ones are filled with the defaults (after construction it is full).
    names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _PREFIX_RE.match(self.prefix):
            raise LabError(
                f"invalid lab prefix {self.prefix!r}: expected [a-z][a-z0-9]*, at most 16 characters"
            )
        if self.guests < 0:
            raise LabError(f"invalid number of guests {self.guests}: expected 0 or more")
        try:
            net4 = ipaddress.IPv4Network(self.subnet)
            net6 = ipaddress.IPv6Network(self.subnet6)
        except ValueError as e:
            raise LabError(f"invalid lab subnet: {e}") from None
        room = net4.num_addresses - FIRST_HOST - 1
        if self.guests > room or (self.guests and _host6(self.guests - 1) >= net6.num_addresses):
            raise LabError(f"{self.guests} guests do not fit in {self.subnet}: at most {max(room, 0)}")
        if len(self.names) > self.guests:
            raise LabError(f"{len(self.names)} guest names given for {self.guests} guests")
        for name in self.names:
            if not _NAME_RE.match(name) or name == "host":
                raise LabError(f"invalid guest name {name!r}: expected [a-z][a-z0-9]*, not 'host'")
        full = tuple(self.names) + default_names(self.guests)[len(self.names) :]
        if len(set(full)) != len(full):
            raise LabError(f"duplicate guest names in {', '.join(full)}")
        object.__setattr__(self, "names", full)

    @property
    def host_netns(self) -> str:
        return f"{self.prefix}-host"

    def guest_names(self) -> tuple[str, ...]:
        return self.names

    def network4(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.subnet)

    def network6(self) -> ipaddress.IPv6Network:
        return ipaddress.IPv6Network(self.subnet6)

    def guest(self, index: int) -> Guest:
        """The guest at ``index`` (0-based) as this spec lays it out."""
        name = self.guest_names()[index]
        return Guest(
            name=name,
            index=index,
            netns=f"{self.prefix}-{name}",
            portdev=f"vnet{index}",
            mac=guest_mac(index),
            ipv4=str(self.network4()[FIRST_HOST + index]),
            ipv6=str(self.network6()[_host6(index)]),
        )


@dataclass(frozen=True)
class Guest:
    """One guest: its namespace, its port on the bridge (host end of the veth) and its eth0 addresses."""

    name: str
    index: int
    netns: str
    portdev: str
    mac: str
    ipv4: str  # without prefix length; the lab's ``prefixlen4`` applies
    ipv6: str  # ULA, without prefix length; the lab's ``prefixlen6`` applies


@dataclass(frozen=True)
class Lab:
    """A built lab: the host namespace with the bridge, and the guests in port order."""

    spec: LabSpec
    guests: tuple[Guest, ...]
    bridge: str = BRIDGE
    bridge_mac: str = BRIDGE_MAC
    _by_name: dict[str, Guest] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {g.name: g for g in self.guests})

    @property
    def prefix(self) -> str:
        return self.spec.prefix

    @property
    def host_netns(self) -> str:
        return self.spec.host_netns

    @property
    def bridge_ipv4(self) -> str:
        return str(self.spec.network4()[1])

    @property
    def bridge_ipv6(self) -> str:
        return str(self.spec.network6()[1])

    @property
    def prefixlen4(self) -> int:
        return self.spec.network4().prefixlen

    @property
    def prefixlen6(self) -> int:
        return self.spec.network6().prefixlen

    def guest(self, name: str) -> Guest:
        try:
            return self._by_name[name]
        except KeyError:
            raise LabError(
                f"no guest {name!r} in lab {self.prefix} (guests: {', '.join(self._by_name)})"
            ) from None

    def __getitem__(self, name: str) -> Guest:
        return self.guest(name)

    def namespaces(self) -> list[str]:
        return [self.host_netns, *(g.netns for g in self.guests)]


def spec_lab(spec: LabSpec) -> Lab:
    """The ``Lab`` a spec describes, without touching the kernel."""
    return Lab(spec=spec, guests=tuple(spec.guest(i) for i in range(spec.guests)))
