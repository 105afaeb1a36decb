"""A filter binding: one guest port (host-side device) bound to a filter with parameters."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from guestwall.model.filter import FilterRef
from guestwall.model.mac import MacAddress


@dataclass(frozen=True)
class Owner:
    name: str
    uuid: UUID


@dataclass(frozen=True)
class Binding:
    owner: Owner
    portdev: str
    mac: MacAddress
    filterref: FilterRef
    linkdev: str | None = None
