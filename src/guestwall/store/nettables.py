"""Virtual networks and floating IPs as SQLAlchemy ORM classes (created by migration 0008).

A network keeps its persistent definition (``xml``, None for a transient network: undefined while
active) and, while active, the definition it runs with (``live_xml``), as libvirt does.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from guestwall.store.tables import Base, UTCDateTime


class NetworkRow(Base):
    __tablename__ = "networks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), nullable=False, unique=True)
    bridge: Mapped[str] = mapped_column(String(15), nullable=False, unique=True)
    xml: Mapped[str | None] = mapped_column(Text, nullable=True)
    live_xml: Mapped[str | None] = mapped_column(Text, nullable=True)
    autostart: Mapped[bool] = mapped_column(Boolean, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class FloatingIPRow(Base):
    __tablename__ = "floating_ips"

    address: Mapped[str] = mapped_column(String(39), primary_key=True)
    fixed: Mapped[str] = mapped_column(String(39), nullable=False, unique=True)
    interface: Mapped[str | None] = mapped_column(String(15), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
