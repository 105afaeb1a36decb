"""Floating IPs as Nova's linux_net made them: DNAT in (also from the host itself), SNAT out, hairpin for
guests of the same network, the public address bound as a /32 on the public interface and announced with
a gratuitous ARP. The translation is three map elements in the network layer's tables (rules.py)."""

from __future__ import annotations

import socket
from ipaddress import IPv4Address

from guestwall.dataplane.netns import call_in_netns
from guestwall.engine import Engine, networks_changed, open_engine
from guestwall.errors import ConflictError, NetworkError
from guestwall.networks import links
from guestwall.store.netrepo import FloatingIPRecord, NetRepo
from guestwall.store.records import Store

ETH_P_ARP = 0x0806


def _v4(text: str, what: str) -> IPv4Address:
    try:
        return IPv4Address(text)
    except ValueError:
        raise NetworkError(
            f"invalid {what} address '{text}': an IPv4 address is expected", "invalid argument"
        ) from None


def create(
    store: Store,
    address: str,
    fixed: str,
    interface: str | None,
    netns: str | None = None,
    *,
    engine: Engine | None = None,
) -> FloatingIPRecord:
    """``engine``: the caller's, by default one for ``netns`` (as in service.py)."""
    rec = FloatingIPRecord(str(_v4(address, "floating")), str(_v4(fixed, "fixed")), interface)
    with store.write() as w:
        repo = NetRepo(w)
        for other in repo.floating_ips():
            if other.address == rec.address:
                raise ConflictError(f"floating IP {rec.address} already exists (for {other.fixed})")
            if other.fixed == rec.fixed:
                raise ConflictError(f"fixed address {rec.fixed} already has floating IP {other.address}")
        repo.add_floating_ip(rec)
        if interface:
            links.bind_address(netns, interface, rec.address)
        try:
            (engine or open_engine(netns)).apply(w, networks_changed())
        except BaseException:
            if interface:
                links.unbind_address(netns, interface, rec.address)
            raise
    if interface:
        announce(netns, interface, IPv4Address(rec.address))
    return rec


def delete(
    store: Store, address: str, netns: str | None = None, *, engine: Engine | None = None
) -> FloatingIPRecord:
    with store.write() as w:
        repo = NetRepo(w)
        rec = repo.delete_floating_ip(str(_v4(address, "floating")))
        (engine or open_engine(netns)).apply(w, networks_changed())
        if rec.interface:
            links.unbind_address(netns, rec.interface, rec.address)
    return rec


def listing(store: Store) -> list[FloatingIPRecord]:
    with store.read() as r:
        return NetRepo(r).floating_ips()


def announce(netns: str | None, interface: str, address: IPv4Address, count: int = 1) -> None:
    """A gratuitous ARP request (``arping -U``): neighbours update their caches to our MAC."""

    def send() -> None:
        with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP)) as s:
            s.bind((interface, ETH_P_ARP))
            mac = s.getsockname()[4]
            frame = (
                b"\xff" * 6 + mac + ETH_P_ARP.to_bytes(2, "big")
                + bytes([0, 1, 8, 0, 6, 4, 0, 1]) + mac + address.packed + bytes(6) + address.packed
            )  # fmt: skip
            for _ in range(count):
                s.send(frame)

    call_in_netns(netns, send)
