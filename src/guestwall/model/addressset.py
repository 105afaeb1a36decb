"""A named set of addresses that rules refer to by name (nwfilter's ``ipset`` attribute).

Security-group members and provider blocks are address sets kept by guestwall; a kernel ipset of the same
name can be mirrored into one. In the kernel each becomes an interval set: membership changes are element
updates, never rule rewrites.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network

Network = IPv4Network | IPv6Network


@dataclass(frozen=True)
class AddressSet:
    name: str
    networks: tuple[Network, ...] = ()

    def of_family(self, family: int) -> tuple[Network, ...]:
        return tuple(n for n in self.networks if n.version == family)
