"""The cloud layer's objects: ports (instances' interfaces), security groups and their rules, provider blocks.

Typed and immutable like the rest of the model, no I/O. ``guestwall.cloud.translate`` turns them into the
engine's own inputs (filters, address sets, bindings); ``guestwall.cloud.validate`` builds them from user
input. Semantics are Neutron's: rules only accept, a port's groups add up, anything not accepted is dropped.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from guestwall.model.mac import MacAddress

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network


class RuleDirection(enum.StrEnum):
    """Seen from the port: ingress = delivered to the guest, egress = sent by it."""

    INGRESS = "ingress"
    EGRESS = "egress"


class Ethertype(enum.StrEnum):
    IPV4 = "IPv4"
    IPV6 = "IPv6"

    @property
    def version(self) -> int:
        return 4 if self is Ethertype.IPV4 else 6


# Protocols a rule can name, as their IP protocol numbers (ICMP is 1 for IPv4 rules, 58 for IPv6 rules).
PROTOCOL_NUMBERS: dict[str, int] = {
    "tcp": 6,
    "udp": 17,
    "icmp": 1,
    "icmpv6": 58,
    "sctp": 132,
    "udplite": 136,
    "esp": 50,
    "ah": 51,
    "igmp": 2,
}
DEFAULT_GROUP_NAME = "default"
PORT_PROTOCOLS = frozenset({"tcp", "udp", "sctp"})
ICMP_PROTOCOLS = frozenset({"icmp", "icmpv6"})


@dataclass(frozen=True)
class SecurityGroupRule:
    """One accept rule. ``protocol`` None is any protocol. Ports (tcp/udp/sctp) or ICMP type and code
    (icmp/icmpv6) narrow it; None is any. The remote side is a CIDR, a group (its members' addresses) or,
    with neither, anywhere."""

    id: str
    group_id: str
    direction: RuleDirection
    ethertype: Ethertype
    protocol: str | None = None
    port_min: int | None = None
    port_max: int | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None
    remote_cidr: Network | None = None
    remote_group_id: str | None = None
    description: str = ""
    remote_address_group_id: str | None = None  # an address group's CIDRs (Neutron's address groups)
    created_at: datetime | None = field(default=None, compare=False)
    log: bool = False  # the drop log records what this rule accepts (new connections; docs/logging.md)

    def same_match(self, other: SecurityGroupRule) -> bool:
        """Whether both rules allow exactly the same traffic (Neutron refuses such duplicates)."""
        fields = (
            "direction",
            "ethertype",
            "protocol",
            "port_min",
            "port_max",
            "icmp_type",
            "icmp_code",
            "remote_cidr",
            "remote_group_id",
            "remote_address_group_id",
        )
        return all(getattr(self, f) == getattr(other, f) for f in fields)


@dataclass(frozen=True)
class SecurityGroup:
    id: str
    name: str
    project: str
    description: str = ""
    rules: tuple[SecurityGroupRule, ...] = ()
    shared: bool = False  # visible to (and usable by) every project; only its own project changes it
    # bookkeeping for the REST API (revision_number, If-Match): not part of what the group means
    revision: int = field(default=0, compare=False)
    created_at: datetime | None = field(default=None, compare=False)
    updated_at: datetime | None = field(default=None, compare=False)

    @property
    def is_default(self) -> bool:
        """Neutron's per-project ``default`` group (created on demand: guestwall.cloud.groups)."""
        return self.name == DEFAULT_GROUP_NAME


@dataclass(frozen=True)
class Port:
    """A guest interface: host-side device, MAC, fixed addresses, extra allowed address pairs (addresses or
    CIDRs the guest may also use), its security groups (ids), port security, and whether it serves DHCP.
    ``device_id`` names what the port belongs to (as in Neutron: the instance's UUID), if anything."""

    id: str
    device: str
    mac: MacAddress
    project: str
    name: str = ""
    fixed_ips: tuple[Address, ...] = ()
    allowed_address_pairs: tuple[Network, ...] = ()
    security_groups: tuple[str, ...] = ()
    port_security: bool = True
    dhcp_server: bool = False
    device_id: str = ""
    # Neutron's port fields guestwall keeps but does not enforce anything with
    network_id: str = ""
    device_owner: str = ""
    host: str = ""  # binding:host_id, the host the port lives on
    revision: int = field(default=0, compare=False)
    created_at: datetime | None = field(default=None, compare=False)
    updated_at: datetime | None = field(default=None, compare=False)

    def networks(self, version: int | None = None) -> tuple[Network, ...]:
        """Fixed addresses (as host networks) and allowed address pairs, of one IP version or both."""
        from ipaddress import ip_network

        nets = [ip_network(a) for a in self.fixed_ips] + list(self.allowed_address_pairs)
        out: list[Network] = []
        for net in nets:
            if (version is None or net.version == version) and net not in out:
                out.append(net)
        return tuple(out)


@dataclass(frozen=True)
class BlockKind:
    """What a provider block stops, apart from its CIDR: all traffic (no protocol), one protocol, or one
    protocol's port range. Blocks of one kind share a kernel set."""

    protocol: str | None = None
    port_min: int | None = None
    port_max: int | None = None


@dataclass(frozen=True)
class ProviderBlock:
    """An administrator's block of a CIDR for every guest: all traffic, or one protocol (and port range)."""

    id: str
    cidr: Network
    protocol: str | None = None  # tcp, udp, icmp (both ICMP versions) or None for all traffic
    port_min: int | None = None
    port_max: int | None = None
    description: str = ""
    log: bool = False  # the drop log records what this block drops (docs/logging.md)

    @property
    def kind(self) -> BlockKind:
        return BlockKind(self.protocol, self.port_min, self.port_max)


@dataclass(frozen=True)
class AddressGroup:
    """Neutron's address group: named CIDRs a rule can name as its remote side (a kernel set, as the
    members of a remote security group)."""

    id: str
    name: str
    project: str
    description: str = ""
    addresses: tuple[Network, ...] = ()
    revision: int = field(default=0, compare=False)
    created_at: datetime | None = field(default=None, compare=False)
    updated_at: datetime | None = field(default=None, compare=False)
