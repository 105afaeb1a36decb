"""The cloud layer's tables (ports, security groups and rules, provider blocks) as SQLAlchemy ORM classes.

Created by migration 0002. What the engine enforces is derived from them in the same transaction (filters,
address sets, bindings: see guestwall.cloud.sync); these tables keep the cloud objects themselves.
Addresses are stored as text: compressed forms, several separated by spaces.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column

from guestwall.store.tables import Base, UTCDateTime


class SecurityGroupRow(Base):
    __tablename__ = "cloud_security_groups"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String, nullable=False)
    project: Mapped[str] = mapped_column(String, nullable=False, index=True)
    description: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # added by migration 0006 (the REST API: If-Match, sharing)
    revision_number: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    shared: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="0")


class SecurityGroupRuleRow(Base):
    __tablename__ = "cloud_security_group_rules"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    group_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("cloud_security_groups.id", ondelete="CASCADE"), nullable=False, index=True
    )
    direction: Mapped[str] = mapped_column(String(7), nullable=False)
    ethertype: Mapped[str] = mapped_column(String(4), nullable=False)
    protocol: Mapped[str | None] = mapped_column(String(16), nullable=True)
    port_min: Mapped[int | None] = mapped_column(Integer, nullable=True)
    port_max: Mapped[int | None] = mapped_column(Integer, nullable=True)
    icmp_type: Mapped[int | None] = mapped_column(Integer, nullable=True)
    icmp_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    remote_cidr: Mapped[str | None] = mapped_column(String(49), nullable=True)
    remote_group_id: Mapped[str | None] = mapped_column(
        String(36),
        # Named here: the naming convention's name would exceed PostgreSQL's 63 characters.
        ForeignKey(
            "cloud_security_groups.id", ondelete="CASCADE", name="fk_cloud_security_group_rules_remote_group"
        ),
        nullable=True,
        index=True,
    )
    description: Mapped[str] = mapped_column(Text, nullable=False)
    # what it accepts is logged (docs/logging.md); added by migration 0009
    log: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=sa_false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # added by migration 0006: the remote side is an address group's addresses (no foreign key: SQLite
    # cannot add one to an existing table; the cloud layer refuses to delete an address group in use)
    remote_address_group_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)


class PortRow(Base):
    __tablename__ = "cloud_ports"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    device: Mapped[str] = mapped_column(String(15), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String, nullable=False)
    mac: Mapped[str] = mapped_column(String(17), nullable=False)
    project: Mapped[str] = mapped_column(String, nullable=False, index=True)
    fixed_ips: Mapped[str] = mapped_column(Text, nullable=False)
    allowed_address_pairs: Mapped[str] = mapped_column(Text, nullable=False)
    port_security: Mapped[bool] = mapped_column(Boolean, nullable=False)
    dhcp_server: Mapped[bool] = mapped_column(Boolean, nullable=False)
    # what the port belongs to, e.g. an instance UUID ('' for none); added by migration 0003
    device_id: Mapped[str] = mapped_column(String(64), nullable=False, server_default="", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # added by migration 0006 (the REST API: If-Match, Neutron's port fields)
    revision_number: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    network_id: Mapped[str] = mapped_column(String(64), nullable=False, server_default="")
    device_owner: Mapped[str] = mapped_column(String(255), nullable=False, server_default="")
    host: Mapped[str] = mapped_column(String(255), nullable=False, server_default="")


class PortSecurityGroupRow(Base):
    """Which groups a port is in. A group with ports cannot be deleted (no cascade from the group side)."""

    __tablename__ = "cloud_port_security_groups"

    port_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("cloud_ports.id", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("cloud_security_groups.id"), primary_key=True, index=True
    )


class ProviderBlockRow(Base):
    __tablename__ = "cloud_provider_blocks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    cidr: Mapped[str] = mapped_column(String(49), nullable=False, index=True)
    protocol: Mapped[str | None] = mapped_column(String(16), nullable=True)
    port_min: Mapped[int | None] = mapped_column(Integer, nullable=True)
    port_max: Mapped[int | None] = mapped_column(Integer, nullable=True)
    description: Mapped[str] = mapped_column(Text, nullable=False)
    # what it drops is logged (docs/logging.md); added by migration 0009
    log: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=sa_false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class AddressGroupRow(Base):
    """Neutron's address group: a named list of CIDRs that rules can name as their remote side (migration
    0006). Addresses are stored as text, compressed forms separated by spaces."""

    __tablename__ = "cloud_address_groups"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String, nullable=False)
    project: Mapped[str] = mapped_column(String, nullable=False, index=True)
    description: Mapped[str] = mapped_column(Text, nullable=False)
    addresses: Mapped[str] = mapped_column(Text, nullable=False)
    revision_number: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class TokenRow(Base):
    """An API token (migration 0006): only its SHA-256 digest is kept; it acts for a project with a role."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    project: Mapped[str] = mapped_column(String, nullable=False)
    role: Mapped[str] = mapped_column(String(8), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
