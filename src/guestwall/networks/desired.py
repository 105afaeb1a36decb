"""What the network layer's tables should hold, by the store: the active networks and floating IPs of one
store transaction compiled into ``ip/ip6 guestwall`` (rules.py). The engine calls it
(``Engine.apply(txn, changes.networks_changed())``); nothing else reaches the kernel with it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from ipaddress import IPv4Address, ip_address

from guestwall.compile.ruleset import Ruleset
from guestwall.errors import NetworkError
from guestwall.networks.model import FloatingIP, HostOptions, Network
from guestwall.networks.rules import compile_networks
from guestwall.networks.xml import parse_network
from guestwall.store.netrepo import FloatingIPRecord, NetRepo
from guestwall.store.records import Reader

METADATA_ENV = "GUESTWALL_METADATA"  # host:port that 169.254.169.254:80 is forwarded to


def host_options() -> HostOptions:
    """The network layer's host settings (``GUESTWALL_METADATA``)."""
    text = os.environ.get(METADATA_ENV, "").strip()
    if not text:
        return HostOptions()
    host, _, port = text.rpartition(":")
    try:
        return HostOptions((IPv4Address(host), int(port)))
    except ValueError:
        raise NetworkError(
            f"{METADATA_ENV}={text!r} is not HOST:PORT with an IPv4 host", "invalid argument"
        ) from None


def active_networks(repo: NetRepo) -> list[Network]:
    return [parse_network(r.live_xml) for r in repo.networks() if r.live_xml is not None]


def floating_ips(records: Sequence[FloatingIPRecord]) -> list[FloatingIP]:
    out = []
    for r in records:
        a, f = ip_address(r.address), ip_address(r.fixed)
        assert isinstance(a, IPv4Address) and isinstance(f, IPv4Address)
        out.append(FloatingIP(a, f, r.interface))
    return out


def desired_tables(txn: Reader, options: HostOptions) -> Ruleset:
    """The host rules of every active network and floating IP as ``txn`` sees them."""
    repo = NetRepo(txn)
    return compile_networks(active_networks(repo), floating_ips(repo.floating_ips()), options)
