"""What the store holds and the interfaces to read and write it, free of SQLAlchemy.

Services, the CLI and the agent program against these protocols; ``sqlstore`` implements them with
SQLAlchemy, ``fastread`` implements the read side with the stdlib sqlite3 module (CLI start-up budget).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Collection, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from ipaddress import IPv4Address, IPv6Address
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

if TYPE_CHECKING:  # the model package costs start-up time the read-only CLI commands do not have
    from guestwall.model.addressset import AddressSet, Network
    from guestwall.model.binding import Binding
    from guestwall.model.filter import Filter
    from guestwall.store.addresssets import SetDelta

# The Alembic head revision this code expects. The fast read path accepts a database only at this revision;
# a test checks that it equals the head of store/migrations/versions.
SCHEMA_REVISION = "0009"

DEFAULT_URL = "sqlite:////var/lib/guestwall/guestwall.db"


def this_host() -> str:
    """The host this process acts for by default: $GUESTWALL_HOST, else this machine's host name."""
    return os.environ.get("GUESTWALL_HOST") or socket.gethostname()


def binding_params(binding: Binding) -> str:
    """The sorted, comma-separated parameter names of a binding; the drop-log mode
    (instantiate.program.LOG_PARAMETER) counts with its value, since it changes the chains too."""
    params = binding.filterref.param_dict()
    names = set(params) | {f"GUESTWALL_LOG={v}" for v in params.get("GUESTWALL_LOG", ())}
    return ",".join(sorted(names))


@dataclass(frozen=True)
class FilterRecord:
    """One filter definition: ``definition`` is the model object; ``xml`` its canonical text as
    ``format_filter`` prints it (with the UUID), kept for dumpxml, which must reproduce it."""

    uuid: UUID
    name: str
    xml: str
    updated_at: datetime

    @property
    def definition(self) -> Filter:
        """The parsed definition (parsed once per process and stored version, see ``_Parsed``)."""
        return _PARSED.filter(self)


@dataclass(frozen=True)
class BindingRecord:
    """One bound port: ``binding`` is the model object; ``xml`` its canonical text (binding-dumpxml).
    ``port_id`` is small, allocated by the store, and unique while the binding exists."""

    portdev: str
    port_id: int
    filter: str  # name of the binding's top filter (its <filterref filter=...>)
    xml: str
    created_at: datetime
    host: str = ""  # the host whose agent enforces it

    @property
    def binding(self) -> Binding:
        """The parsed binding (parsed once per process and stored version, see ``_Parsed``)."""
        return _PARSED.binding(self)


@dataclass(frozen=True)
class BindingGroup:
    """The bindings of one top filter with the same parameter names share every kernel chain; ``record``
    is one of them (the one with the smallest port id), standing for the group."""

    filter: str
    params: str  # sorted parameter names (``binding_params``)
    record: BindingRecord


class _Parsed:
    """The model objects of stored definitions, parsed once per process: remembered by what they belong to
    (a filter's UUID, a binding's host and device) for as long as its stored text is the same. The agent,
    the API and the cloud layer read every definition in every transaction; most never change."""

    LIMIT = 100_000

    def __init__(self) -> None:
        self.filters: dict[UUID, tuple[str, Filter]] = {}
        self.bindings: dict[tuple[str, str], tuple[str, Binding]] = {}

    def filter(self, record: FilterRecord) -> Filter:
        known = self.filters.get(record.uuid)
        if known is not None and known[0] == record.xml:
            return known[1]
        from guestwall.nwfilter import parse_filter

        definition = parse_filter(record.xml)
        self._keep(self.filters, record.uuid, (record.xml, definition))
        return definition

    def binding(self, record: BindingRecord) -> Binding:
        known = self.bindings.get((record.host, record.portdev))
        if known is not None and known[0] == record.xml:
            return known[1]
        from guestwall.nwfilter import parse_binding

        binding = parse_binding(record.xml)
        self.remember(record, binding)
        return binding

    def remember(self, record: BindingRecord, binding: Binding) -> None:
        """``binding`` is what ``record`` stores (its writer formatted it): no parse when it is read back."""
        self._keep(self.bindings, (record.host, record.portdev), (record.xml, binding))

    def _keep(self, table: dict[Any, Any], key: object, value: object) -> None:
        if len(table) >= self.LIMIT:
            table.clear()
        table[key] = value


_PARSED = _Parsed()


def stored_binding(record: BindingRecord, parsed: Binding | None) -> Binding:
    """What a writer stores for ``record``: ``parsed`` if the caller gave it (remembered: reading it back
    parses nothing), else ``record.xml`` parsed."""
    if parsed is None:
        return record.binding
    _PARSED.remember(record, parsed)
    return parsed


@dataclass(frozen=True)
class Change:
    """One object a committed revision changed. ``host``: the host it belongs to (bindings and their
    learned addresses), None for objects any host may use (filters, address sets)."""

    revision: int
    entity: str  # 'binding', 'address', 'filter', 'set'
    key: str
    host: str | None

    def concerns(self, host: str) -> bool:
        return self.host is None or self.host == host


# A notification's payload: "<revision> <hosts>", hosts comma-separated, "*" for every host (PostgreSQL
# limits payloads to 8000 bytes: a longer list becomes "*").
_PAYLOAD_LIMIT = 7000


def notify_payload(revision: int, hosts: Iterable[str | None]) -> str:
    """What a commit notifies: its revision and the hosts its changes concern."""
    names = set(hosts)
    text = "*" if None in names else ",".join(sorted(n for n in names if n is not None))
    return f"{revision} {text if len(text) <= _PAYLOAD_LIMIT else '*'}"


def parse_payload(payload: str) -> tuple[int, frozenset[str] | None] | None:
    """(revision, concerned hosts or None for every host), or None for a payload not of this form."""
    revision, _, hosts = payload.partition(" ")
    if not revision.isdigit():
        return None
    return int(revision), None if hosts == "*" else frozenset(h for h in hosts.split(",") if h)


@dataclass(frozen=True)
class LearnedAddress:
    portdev: str
    ip: IPv4Address | IPv6Address
    source: str  # how it was learned: 'arp', 'dhcp', 'static', ...
    learned_at: datetime
    expires_at: datetime | None = None


class Reader(Protocol):
    """A consistent read view of the store (one transaction), as host ``host`` sees it."""

    host: str

    def generation(self) -> int: ...
    def filters(self) -> list[FilterRecord]: ...
    def filter_by_name(self, name: str) -> FilterRecord | None: ...
    def filter_by_uuid(self, uuid: UUID) -> FilterRecord | None: ...
    def bindings(self) -> list[BindingRecord]: ...
    def count_bindings(self, filter_name: str) -> int:
        """How many bindings use filter ``filter_name`` as their top filter."""
        ...

    def bound_filters(self) -> set[str]:
        """The top filters of all bindings."""
        ...

    def binding_groups(self, filter_names: Sequence[str]) -> list[BindingGroup]:
        """One binding per (top filter, parameter names) among these top filters: a query whose result
        does not grow with the ports."""
        ...

    def binding(self, portdev: str) -> BindingRecord | None: ...
    def learned_addresses(self, portdev: str | None = None) -> list[LearnedAddress]: ...
    def address_sets(self, names: Collection[str] | None = None) -> list[AddressSet]:
        """Every named address set, or those of ``names`` (by name)."""
        ...

    def address_set_names(self) -> list[str]:
        """The names of every address set (reading none of their networks)."""
        ...

    def address_set_delta(self, name: str) -> SetDelta | None:
        """How this transaction changed the kernel's copy of address set ``name`` (the networks added and
        removed, covered ones left out); None if it did not write it."""
        ...

    def log_floor(self) -> int:
        """Every change after this revision is in the change log (older ones were pruned)."""
        ...

    def changes_after(self, revision: int) -> list[Change]:
        """The logged changes of revisions after ``revision``, in commit order."""
        ...


class Writer(Reader, Protocol):
    """A write transaction: it holds the store's write lock; it commits when its block ends without error.

    Every write increments the store's generation counter once per transaction.
    """

    def put_filter(self, uuid: UUID, name: str, xml: str) -> FilterRecord: ...
    def delete_filter(self, uuid: UUID) -> None: ...
    def add_binding(
        self, portdev: str, filter: str, xml: str, parsed: Binding | None = None
    ) -> BindingRecord:
        """``parsed``: the binding ``xml`` formats, if the caller has it (else the store parses ``xml``)."""
        ...

    def add_bindings(
        self, rows: Sequence[tuple[str, str, str]], parsed: Sequence[Binding] | None = None
    ) -> list[BindingRecord]:
        """Several (portdev, filter, xml) at once: one existence check, one insert."""
        ...

    def update_binding(
        self, portdev: str, filter: str, xml: str, parsed: Binding | None = None
    ) -> BindingRecord: ...
    def delete_binding(self, portdev: str) -> None: ...
    def on(self, host: str) -> Writer:
        """The same transaction acting for another host's bindings."""
        ...

    def move_binding(self, portdev: str, host: str) -> str: ...
    def learn_address(
        self,
        portdev: str,
        ip: IPv4Address | IPv6Address,
        source: str,
        expires_at: datetime | None = None,
    ) -> LearnedAddress: ...
    def forget_addresses(
        self, portdev: str, ips: Sequence[IPv4Address | IPv6Address] | None = None
    ) -> int: ...
    def expire_addresses(self, now: datetime | None = None) -> int: ...
    def put_address_set(self, name: str, networks: Sequence[Network]) -> bool:
        """Store a set's networks; whether that changed it."""
        ...

    def edit_address_set(
        self, name: str, add: Sequence[Network] = (), remove: Sequence[Network] = ()
    ) -> bool:
        """Add and remove some networks of a set (created if missing), reading none of the others."""
        ...

    def delete_address_set(self, name: str) -> None: ...


class ReadableStore(Protocol):
    def read(self) -> AbstractContextManager[Reader]: ...
    def close(self) -> None: ...


class Store(ReadableStore, Protocol):
    url: str
    host: str
    last_revision: int | None

    def write(self) -> AbstractContextManager[Writer]: ...
    def guarded_read(self) -> AbstractContextManager[Reader]: ...
    def generation(self) -> int: ...
