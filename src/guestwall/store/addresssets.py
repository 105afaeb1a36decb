"""How an address set's networks are kept in the store's ``address_sets`` table: canonical text, one network
per line, sorted (IPv4 first, then by address and prefix). Shared by the SQLAlchemy store and the sqlite3
fast read path; no SQLAlchemy.

A set of thousands of provider blocks changes one network at a time: ``edit_text`` edits the sorted text
in place (a binary search parses a dozen lines, not ten thousand) and says how the kernel's copy changes
(``SetDelta``). The kernel holds a set without the networks covered by another (``without_covered``), so
a network added inside a blocked one changes nothing there, and one removed may uncover those inside it.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from ipaddress import ip_network

from guestwall.model.addressset import AddressSet, Network, without_covered


def _key(net: Network) -> tuple[int, int, int]:
    return (net.version, int(net.network_address), net.prefixlen)


def canonical_networks(networks: Iterable[Network]) -> tuple[Network, ...]:
    """The networks without duplicates, in the store's order (IPv4 first, then by address and prefix)."""
    return tuple(sorted(set(networks), key=_key))


def format_networks(networks: Iterable[Network]) -> str:
    return "\n".join(str(n) for n in canonical_networks(networks))


@lru_cache(maxsize=1024)
def parse_address_set(name: str, text: str) -> AddressSet:
    """Cached: every enforcement reads every set, and a set of thousands of networks rarely changes."""
    return AddressSet(name, tuple(ip_network(line) for line in text.split("\n") if line))


@dataclass(frozen=True)
class SetDelta:
    """How the kernel's copy of a set changes (networks added and removed, covered ones left out)."""

    added: frozenset[Network] = frozenset()
    removed: frozenset[Network] = frozenset()

    def then(self, later: SetDelta) -> SetDelta:
        """This change followed by ``later`` as one change."""
        added = (self.added - later.removed) | (later.added - self.removed)
        removed = (self.removed - later.added) | (later.removed - self.added)
        return SetDelta(frozenset(added), frozenset(removed))

    def of_family(self, family: int) -> tuple[tuple[Network, ...], tuple[Network, ...]]:
        """(added, removed) of one IP version."""
        return (
            tuple(n for n in self.added if n.version == family),
            tuple(n for n in self.removed if n.version == family),
        )


def delta_between(old: Sequence[Network], new: Sequence[Network]) -> SetDelta:
    """The kernel's change from a set's old networks to its new ones (both whole)."""
    before, after = set(without_covered(old)), set(without_covered(new))
    return SetDelta(frozenset(after - before), frozenset(before - after))


# Beyond this many networks changed at once, comparing both sets whole costs less than editing line by line.
_EDIT_LIMIT = 64


def text_delta(old: str, new: str) -> SetDelta:
    """The kernel's change from a set's stored text to another (both canonical): the lines that differ
    are found as text, and only those are parsed, unless many differ."""
    before, after = set(old.split("\n")) - {""}, set(new.split("\n")) - {""}
    added, removed = after - before, before - after
    if len(added) + len(removed) > _EDIT_LIMIT:
        return delta_between([_parsed(line) for line in before], [_parsed(line) for line in after])
    return edit_text(old, [_parsed(line) for line in added], [_parsed(line) for line in removed])[1]


class _Lines:
    """The sorted lines of a set's text, searched by parsing only the lines a binary search visits."""

    def __init__(self, text: str) -> None:
        self.lines = text.split("\n") if text else []
        self.present = set(self.lines)

    @staticmethod
    def key(line: str) -> tuple[int, int, int]:
        return _key(_parsed(line))

    def index(self, net: Network) -> int:
        return bisect_left(self.lines, _key(net), key=self.key)

    def covered(self, net: Network) -> bool:
        """Whether a network strictly containing ``net`` is in the set."""
        return any(str(net.supernet(new_prefix=p)) in self.present for p in range(net.prefixlen))

    def inside(self, net: Network, start: int) -> list[Network]:
        """The networks strictly inside ``net``: they follow it in the sorted order."""
        out: list[Network] = []
        last = int(net.broadcast_address)
        for line in self.lines[start:]:
            other = _parsed(line)
            if other.version != net.version or int(other.network_address) > last:
                break
            if other != net:
                out.append(other)
        return out

    def add(self, net: Network) -> SetDelta:
        text = str(net)
        if text in self.present:
            return SetDelta()
        at = self.index(net)
        self.lines.insert(at, text)
        self.present.add(text)
        if self.covered(net):
            return SetDelta()
        return SetDelta(frozenset({net}), frozenset(without_covered(self.inside(net, at + 1))))

    def remove(self, net: Network) -> SetDelta:
        text = str(net)
        if text not in self.present:
            return SetDelta()
        at = self.index(net)
        del self.lines[at]
        self.present.discard(text)
        if self.covered(net):
            return SetDelta()
        return SetDelta(frozenset(without_covered(self.inside(net, at))), frozenset({net}))


@lru_cache(maxsize=4096)
def _parsed(line: str) -> Network:
    return ip_network(line)


def edit_text(text: str, add: Iterable[Network] = (), remove: Iterable[Network] = ()) -> tuple[str, SetDelta]:
    """A set's stored text with networks removed and added (kept sorted), and the kernel's change."""
    lines = _Lines(text)
    delta = SetDelta()
    for net in remove:
        delta = delta.then(lines.remove(net))
    for net in add:
        delta = delta.then(lines.add(net))
    return "\n".join(lines.lines), delta
