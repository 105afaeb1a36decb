"""Reading and writing virtual networks and floating IPs inside a store transaction (over nettables).

``NetRepo(reader_or_writer)`` works in the caller's transaction, like CloudRepo. It needs the SQLAlchemy
store (open it with ``open_store``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from guestwall.errors import NetworkNotFoundError
from guestwall.store.nettables import FloatingIPRow, NetworkRow
from guestwall.store.sqlstore import SqlRepo


@dataclass(frozen=True)
class NetworkRecord:
    name: str
    uuid: str
    bridge: str
    xml: str | None  # persistent definition; None: transient (undefined while active)
    live_xml: str | None  # while active: the definition it runs with
    autostart: bool

    @property
    def active(self) -> bool:
        return self.live_xml is not None

    @property
    def persistent(self) -> bool:
        return self.xml is not None

    def current_xml(self, inactive: bool = False) -> str:
        text = self.xml if inactive and self.xml is not None else (self.live_xml or self.xml)
        assert text is not None
        return text


@dataclass(frozen=True)
class FloatingIPRecord:
    address: str
    fixed: str
    interface: str | None


def _record(row: NetworkRow) -> NetworkRecord:
    return NetworkRecord(row.name, row.uuid, row.bridge, row.xml, row.live_xml, row.autostart)


class NetRepo(SqlRepo):
    NEEDS_SQL = "networks need the SQL store (open it with guestwall.store.open_store)"
    WRITE_ONLY = "networks can only be changed in a write transaction"

    # ---- networks ---------------------------------------------------------------------------------------

    def networks(self) -> list[NetworkRecord]:
        return [_record(r) for r in self.session.scalars(select(NetworkRow).order_by(NetworkRow.name))]

    def find(self, name_or_uuid: str) -> NetworkRecord | None:
        row = self.session.get(NetworkRow, name_or_uuid)
        if row is None:
            row = self.session.scalars(
                select(NetworkRow).where(NetworkRow.uuid == name_or_uuid.lower())
            ).first()
        return _record(row) if row is not None else None

    def get(self, name_or_uuid: str) -> NetworkRecord:
        """By name, then by UUID (as virsh looks networks up); NetworkNotFoundError with libvirt's text."""
        found = self.find(name_or_uuid)
        if found is None:
            raise NetworkNotFoundError(f"no network with matching name '{name_or_uuid}'")
        return found

    def put(self, rec: NetworkRecord) -> None:
        self._changed()
        row = self.session.get(NetworkRow, rec.name)
        if row is None:
            row = NetworkRow(name=rec.name)
            self.session.add(row)
        row.uuid, row.bridge, row.xml, row.live_xml = rec.uuid, rec.bridge, rec.xml, rec.live_xml
        row.autostart, row.updated_at = rec.autostart, datetime.now(UTC)
        self.session.flush()

    def delete(self, name: str) -> None:
        self._changed()
        row = self.session.get(NetworkRow, name)
        if row is not None:
            self.session.delete(row)
            self.session.flush()

    # ---- floating IPs ------------------------------------------------------------------------------------

    def floating_ips(self) -> list[FloatingIPRecord]:
        rows = self.session.scalars(select(FloatingIPRow).order_by(FloatingIPRow.address))
        return [FloatingIPRecord(r.address, r.fixed, r.interface) for r in rows]

    def add_floating_ip(self, rec: FloatingIPRecord) -> None:
        self._changed()
        self.session.add(
            FloatingIPRow(
                address=rec.address, fixed=rec.fixed, interface=rec.interface, created_at=datetime.now(UTC)
            )
        )
        self.session.flush()

    def delete_floating_ip(self, address: str) -> FloatingIPRecord:
        row = self.session.get(FloatingIPRow, address)
        if row is None:
            raise NetworkNotFoundError(f"no floating IP with address '{address}'")
        self._changed()
        rec = FloatingIPRecord(row.address, row.fixed, row.interface)
        self.session.delete(row)
        self.session.flush()
        return rec
