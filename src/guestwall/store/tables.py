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
    ForeignKeyConstraint,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
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
    # Every change after this revision is in store_changes (older ones were pruned, or never logged).
    log_floor: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0, server_default="0")


class FilterRow(Base):
    __tablename__ = "filters"

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True)  # lowercase, dashed
    name: Mapped[str] = mapped_column(String, nullable=False, unique=True)
    xml: Mapped[str] = mapped_column(Text, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class BindingRow(Base):
    """A bound port of a host. Device names are unique per host (libvirt's vnetN repeat on every host)."""

    __tablename__ = "bindings"
    __table_args__ = (UniqueConstraint("host", "portdev", name="uq_bindings_host_portdev"),)

    # The port id is what the kernel dispatch keys on: small, allocated by the store, unique while bound.
    port_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    portdev: Mapped[str] = mapped_column(String, nullable=False)
    filter_name: Mapped[str] = mapped_column(String, nullable=False, index=True)
    xml: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # sorted names of its parameters: with filter_name, the group of ports that share kernel chains
    params: Mapped[str] = mapped_column(String, nullable=False, default="", server_default="")
    # the host whose agent enforces it (its host name, or what --host said)
    host: Mapped[str] = mapped_column(String, nullable=False, default="", server_default="", index=True)


class LearnedAddressRow(Base):
    __tablename__ = "learned_addresses"
    __table_args__ = (
        ForeignKeyConstraint(
            ["host", "portdev"],
            ["bindings.host", "bindings.portdev"],
            name="fk_learned_addresses_host_bindings",
            ondelete="CASCADE",
        ),
    )

    host: Mapped[str] = mapped_column(String, primary_key=True)
    portdev: Mapped[str] = mapped_column(String, primary_key=True)
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


class ChangeRow(Base):
    """One changed object of one revision (the generation its transaction committed). ``host``: the host
    the object belongs to (a binding, its learned addresses), or None for what every host may use."""

    __tablename__ = "store_changes"

    revision: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    entity: Mapped[str] = mapped_column(String(16), nullable=False)
    key: Mapped[str] = mapped_column(String, nullable=False)
    host: Mapped[str | None] = mapped_column(String, nullable=True)


class HostRow(Base):
    """What a host's agent last reported (written by the agent only, outside the store's write lock)."""

    __tablename__ = "hosts"

    name: Mapped[str] = mapped_column(String, primary_key=True)
    applied_revision: Mapped[int] = mapped_column(BigInteger, nullable=False)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_repair_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    repairs: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")


# The cloud layer's tables live in their own module; importing it registers them in Base.metadata.
from guestwall.store import cloudtables as _cloudtables  # noqa: E402, F401
from guestwall.store import nettables as _nettables  # noqa: E402, F401
