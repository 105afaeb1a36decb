"""A virtual network as typed, immutable data (libvirt's <network>): no I/O, no XML."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address, IPv4Interface, IPv6Address, IPv6Interface, ip_network

IPAddress = IPv4Address | IPv6Address
IPInterface = IPv4Interface | IPv6Interface


class ForwardMode(enum.Enum):
    NONE = "none"  # isolated: guests reach each other and the host only
    NAT = "nat"
    ROUTE = "route"
    OPEN = "open"  # no rules at all


@dataclass(frozen=True)
class NatSpec:
    ipv6: bool | None = None
    address_start: IPv4Address | None = None
    address_end: IPv4Address | None = None
    port_start: int | None = None
    port_end: int | None = None

    @property
    def empty(self) -> bool:
        return self == NatSpec()


@dataclass(frozen=True)
class Forward:
    mode: ForwardMode = ForwardMode.NONE
    dev: str | None = None
    nat: NatSpec = NatSpec()


@dataclass(frozen=True)
class Bridge:
    name: str | None = None
    stp: bool = True
    delay: int = 0


@dataclass(frozen=True)
class DhcpRange:
    start: IPAddress
    end: IPAddress


@dataclass(frozen=True)
class DhcpHost:
    mac: str | None = None  # lower case
    name: str | None = None
    ip: IPAddress | None = None

    def label(self) -> str:
        """The host as libvirt quotes it in messages, e.g. ``mac='..' name='..' ip='..'``."""
        parts = [f"{k}='{v}'" for k, v in (("mac", self.mac), ("name", self.name), ("ip", self.ip)) if v]
        return " ".join(f'"{p}"' for p in parts)


@dataclass(frozen=True)
class Dhcp:
    ranges: tuple[DhcpRange, ...] = ()
    hosts: tuple[DhcpHost, ...] = ()


@dataclass(frozen=True)
class IPConfig:
    address: IPInterface
    netmask_form: bool = False  # written with netmask= (kept as written, as libvirt does)
    family_given: bool = False
    dhcp: Dhcp | None = None

    @property
    def version(self) -> int:
        return self.address.version


@dataclass(frozen=True)
class Forwarder:
    addr: IPAddress | None = None
    domain: str | None = None


@dataclass(frozen=True)
class DnsHost:
    ip: IPAddress
    hostnames: tuple[str, ...]


@dataclass(frozen=True)
class Dns:
    enable: bool | None = None
    forwarders: tuple[Forwarder, ...] = ()
    hosts: tuple[DnsHost, ...] = ()

    @property
    def empty(self) -> bool:
        return self == Dns()


@dataclass(frozen=True)
class Domain:
    name: str
    local_only: bool | None = None


@dataclass(frozen=True)
class PortGroup:
    name: str
    default: bool = False
    vlan_tags: tuple[int, ...] = ()


@dataclass(frozen=True)
class Network:
    name: str
    uuid: str | None = None
    forward: Forward = Forward()
    bridge: Bridge = Bridge()
    mtu: int | None = None
    mac: str | None = None
    domain: Domain | None = None
    dns: Dns = Dns()
    port_isolated: bool | None = None
    ips: tuple[IPConfig, ...] = ()
    portgroups: tuple[PortGroup, ...] = field(default=())

    @property
    def bridge_name(self) -> str:
        if self.bridge.name is None:
            raise ValueError(f"network '{self.name}' has no bridge name yet")
        return self.bridge.name

    def ipv4(self) -> IPConfig | None:
        return next((ip for ip in self.ips if ip.version == 4), None)

    def dhcp_hosts(self) -> tuple[DhcpHost, ...]:
        return tuple(h for ip in self.ips if ip.dhcp for h in ip.dhcp.hosts)

    @property
    def vlan_filtering(self) -> bool:
        return any(pg.vlan_tags for pg in self.portgroups)

    def with_ip(self, index: int, ip: IPConfig) -> Network:
        ips = list(self.ips)
        ips[index] = ip
        return replace(self, ips=tuple(ips))


def subnet(ip: IPConfig) -> str:
    return str(ip_network(ip.address, strict=False))


@dataclass(frozen=True)
class FloatingIP:
    """A public address translated to a guest's fixed address (linux_net's floating IP)."""

    address: IPv4Address
    fixed: IPv4Address
    interface: str | None = None


@dataclass(frozen=True)
class HostOptions:
    """Host-wide settings of the network layer: where 169.254.169.254:80 is forwarded (None: nowhere)."""

    metadata: tuple[IPv4Address, int] | None = None
