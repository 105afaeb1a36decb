"""The store's tables as SQLAlchemy ORM classes. Schema changes go through a new Alembic revision in
store/migrations/versions; a test checks that the migrations produce exactly these tables.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Fixed constraint names, so that migrations can refer to them on every backend.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps are stored as naive UTC (portable: SQLite has no time zones) and read back as aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class StateRow(Base):
    """The single row (id 1) of store-wide state. Writers lock it; the agent polls ``generation``."""

    __tablename__ = "store_state"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # Set once when the builtin filters were added; never cleared, so undefined builtins stay undefined.
    builtins_seeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class FilterRow(Base):
    __tablename__ = "filters"

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True)  # lowercase, dashed
    name: Mapped[str] = mapped_column(String, nullable=False, unique=True)
    xml: Mapped[str] = mapped_column(Text, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class BindingRow(Base):
    __tablename__ = "bindings"

    # The port id is what the kernel dispatch keys on: small, allocated by the store, unique while bound.
    port_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    portdev: Mapped[str] = mapped_column(String, nullable=False, unique=True)
    filter_name: Mapped[str] = mapped_column(String, nullable=False, index=True)
    xml: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # sorted names of its parameters: with filter_name, the group of ports that share kernel chains
    params: Mapped[str] = mapped_column(String, nullable=False, default="", server_default="")


class LearnedAddressRow(Base):
    __tablename__ = "learned_addresses"

    portdev: Mapped[str] = mapped_column(
        String, ForeignKey("bindings.portdev", ondelete="CASCADE"), primary_key=True
    )
    ip: Mapped[str] = mapped_column(String(45), primary_key=True)  # compressed text form
    source: Mapped[str] = mapped_column(String(16), nullable=False)
    learned_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)


class AddressSetRow(Base):
    """A named address set (what nwfilter ``ipset`` attributes name): networks, one per line, canonical."""

    __tablename__ = "address_sets"

    name: Mapped[str] = mapped_column(String(31), primary_key=True)
    networks: Mapped[str] = mapped_column(Text, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class HostSettingRow(Base):
    """One host setting that changes enforcement (guest port patterns, what unbound guest ports get, DHCP
    snooping rates): its TOML key (``ports.unbound``) and its value as JSON. Created by migration 0005."""

    __tablename__ = "host_settings"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text, nullable=False)


# The cloud layer's tables live in their own module; importing it registers them in Base.metadata.
from guestwall.store import cloudtables as _cloudtables  # noqa: E402, F401
