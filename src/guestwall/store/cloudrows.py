"""The cloud tables' rows as model objects (security groups, rules, ports, provider blocks, address
groups): what store/cloudsql.py reads and writes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from typing import Any

from guestwall.errors import StoreError
from guestwall.model.cloud import (
    AddressGroup,
    Ethertype,
    Network,
    Port,
    RuleDirection,
    SecurityGroup,
    SecurityGroupRule,
)
from guestwall.model.mac import MacAddress
from guestwall.store.cloudtables import (
    AddressGroupRow,
    PortRow,
    PortSecurityGroupRow,
    ProviderBlockRow,
    SecurityGroupRow,
    SecurityGroupRuleRow,
)


def now() -> datetime:
    return datetime.now(UTC)


def rule_of(row: SecurityGroupRuleRow) -> SecurityGroupRule:
    return SecurityGroupRule(
        id=row.id,
        group_id=row.group_id,
        direction=RuleDirection(row.direction),
        ethertype=Ethertype(row.ethertype),
        protocol=row.protocol,
        port_min=row.port_min,
        port_max=row.port_max,
        icmp_type=row.icmp_type,
        icmp_code=row.icmp_code,
        remote_cidr=ip_network(row.remote_cidr) if row.remote_cidr else None,
        remote_group_id=row.remote_group_id,
        description=row.description,
        remote_address_group_id=row.remote_address_group_id,
        created_at=row.created_at,
        log=row.log,
    )


def group_of(row: SecurityGroupRow, rules: Iterable[SecurityGroupRule]) -> SecurityGroup:
    return SecurityGroup(
        row.id,
        row.name,
        row.project,
        row.description,
        tuple(rules),
        shared=row.shared,
        revision=row.revision_number,
        created_at=row.created_at,
        updated_at=row.updated_at or row.created_at,
    )


def address_group_of(row: AddressGroupRow) -> AddressGroup:
    return AddressGroup(
        row.id,
        row.name,
        row.project,
        row.description,
        tuple(network_of(text) for text in split(row.addresses)),
        revision=row.revision_number,
        created_at=row.created_at,
        updated_at=row.updated_at or row.created_at,
    )


def split(text: str) -> list[str]:
    return [item for item in text.split(" ") if item]


def port_of(row: Any, groups: Iterable[str]) -> Port:
    """A port from its row (a PortRow, or a result row of ``PORT_COLUMNS``: no ORM object per port)."""
    return Port(
        id=row.id,
        device=row.device,
        mac=MacAddress.require(row.mac, f"stored port {row.id}", StoreError),
        project=row.project,
        name=row.name,
        fixed_ips=tuple(address_of(a) for a in split(row.fixed_ips)),
        allowed_address_pairs=tuple(network_of(n) for n in split(row.allowed_address_pairs)),
        security_groups=tuple(sorted(groups)),
        port_security=row.port_security,
        dhcp_server=row.dhcp_server,
        device_id=row.device_id,
        network_id=row.network_id,
        device_owner=row.device_owner,
        host=row.host,
        revision=row.revision_number,
        created_at=row.created_at,
        updated_at=row.updated_at or row.created_at,
    )


@lru_cache(maxsize=1 << 16)
def network_of(text: str) -> Network:
    """Parsed once per distinct text: thousands of provider blocks are read by every change of them."""
    return ip_network(text)


@lru_cache(maxsize=1 << 16)
def address_of(text: str) -> IPv4Address | IPv6Address:
    return ip_address(text)


PORT_COLUMNS = tuple(getattr(PortRow, c.key) for c in PortRow.__table__.columns)
MEMBERSHIP = (PortSecurityGroupRow.port_id, PortSecurityGroupRow.group_id)

BLOCK_COLUMNS = (
    ProviderBlockRow.id,
    ProviderBlockRow.cidr,
    ProviderBlockRow.protocol,
    ProviderBlockRow.port_min,
    ProviderBlockRow.port_max,
    ProviderBlockRow.description,
    ProviderBlockRow.log,
)
