"""What a front end tells the engine: a typed description of one change to the store, not how to enforce it.

The engine decides from it whether the incremental path applies or everything must be recomputed; a front
end (CLI, cloud layer, agent, API) only says what it changed, in the store transaction it passes along.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from guestwall.engine.desired import BoundPort
from guestwall.model import AddressSet, Filter


@dataclass(frozen=True)
class FilterEdit:
    """Filter definitions before and after the change (every definition, by name)."""

    before: Mapping[str, Filter]
    after: Mapping[str, Filter]


@dataclass(frozen=True)
class Change:
    """One change in the store, in the transaction that made it. Its parts combine into one kernel
    transaction: filters edited, bound ports that come (by port device, now in the store) and go (as they
    were, see ``engine.departing``), address sets to bring in step with the store. ``previous`` are address
    sets as the store held them before the change (so the kernel, when it was in step): their deltas need
    no read-back; sets in ``sets`` without an entry are read back from the kernel. ``full``: recompute
    everything (drift repair, or a change whose extent is unknown). ``networks``: virtual networks or
    floating IPs changed, a change of its own (their tables, ``ip/ip6 guestwall``, are apart from the
    filters': ``networks_changed``)."""

    filters: FilterEdit | None = None
    added: tuple[str, ...] = ()
    removed: tuple[BoundPort, ...] = ()
    sets: frozenset[str] = frozenset()
    previous: Mapping[str, AddressSet] = field(default_factory=dict)
    full: bool = False
    lagging: frozenset[str] = frozenset()  # sets the kernel may not hold as the store did: read back
    networks: bool = False

    def __post_init__(self) -> None:
        if self.networks and (self.filters or self.added or self.removed or self.sets or self.full):
            raise ValueError("the networks' tables change on their own: use networks_changed() alone")

    def __bool__(self) -> bool:
        return bool(self.filters or self.added or self.removed or self.sets or self.full or self.networks)


def converge() -> Change:
    """Make the kernel equal to the store, whatever it holds."""
    return Change(full=True)


def filter_edit(before: Mapping[str, Filter], after: Mapping[str, Filter]) -> Change:
    return Change(filters=FilterEdit(before, after))


def networks_changed() -> Change:
    """Virtual networks or floating IPs changed (started, destroyed, created, deleted; or the agent repairs
    them): the networks' tables are recomputed from the store and diffed, one transaction."""
    return Change(networks=True)
