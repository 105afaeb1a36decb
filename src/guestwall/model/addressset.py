"""A named set of addresses that rules refer to by name (nwfilter's ``ipset`` attribute).

Security-group members and provider blocks are address sets kept by guestwall; a kernel ipset of the same
name can be mirrored into one. In the kernel each becomes an interval set: membership changes are element
updates, never rule rewrites.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network

Network = IPv4Network | IPv6Network


@dataclass(frozen=True)
class AddressSet:
    name: str
    networks: tuple[Network, ...] = ()

    def of_family(self, family: int) -> tuple[Network, ...]:
        """The networks of one IP version, merged: the kernel's interval sets refuse overlapping elements
        (a member's address inside another member's allowed 0.0.0.0/0, a /25 blocked inside a /24)."""
        return without_covered(n for n in self.networks if n.version == family)


def without_covered(networks: Iterable[Network]) -> tuple[Network, ...]:
    """The networks without those inside another (CIDRs either nest or are disjoint, so this removes every
    overlap); adjacent ones stay apart, so that one change stays a small element delta."""
    out: list[Network] = []
    # integer keys: comparing ipaddress objects costs ten times more, and sets hold thousands of blocks
    for net in sorted(set(networks), key=lambda n: (n.version, int(n.network_address), n.prefixlen)):
        if out and out[-1].version == net.version and net.subnet_of(out[-1]):  # type: ignore[arg-type]
            continue
        out.append(net)
    return tuple(out)
