"""How an address set's networks are kept in the store's ``address_sets`` table: canonical text, one network
per line, sorted (IPv4 first). Shared by the SQLAlchemy store and the sqlite3 fast read path; no SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from ipaddress import ip_network

from guestwall.model.addressset import AddressSet, Network


def format_networks(networks: Iterable[Network]) -> str:
    unique = set(networks)
    ordered = sorted(unique, key=lambda n: (n.version, int(n.network_address), n.prefixlen))
    return "\n".join(str(n) for n in ordered)


@lru_cache(maxsize=1024)
def parse_address_set(name: str, text: str) -> AddressSet:
    """Cached: every enforcement reads every set, and a set of thousands of networks rarely changes."""
    return AddressSet(name, tuple(ip_network(line) for line in text.split("\n") if line))
