"""Cloud objects in OpenStack Networking v2.0's response shapes (dictionaries ready for JSON).

Attribute sets per resource (what ``?filter=`` and ``sort_key`` may name) are the keys these produce.
guestwall's own port fields carry a ``guestwall:`` prefix, as Neutron's extensions prefix theirs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from guestwall.model.cloud import (
    ICMP_PROTOCOLS,
    AddressGroup,
    Network,
    Port,
    ProviderBlock,
    SecurityGroup,
    SecurityGroupRule,
)


def timestamp(when: datetime | None) -> str | None:
    return None if when is None else when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _owner(project: str) -> dict[str, str]:
    return {"project_id": project, "tenant_id": project}


def rule(r: SecurityGroupRule, project: str, in_default: bool) -> dict[str, Any]:
    icmp = r.protocol in ICMP_PROTOCOLS
    return {
        "id": r.id,
        "security_group_id": r.group_id,
        "direction": r.direction.value,
        "ethertype": r.ethertype.value,
        "protocol": r.protocol,
        # Neutron keeps an ICMP rule's type and code in the port range fields
        "port_range_min": r.icmp_type if icmp else r.port_min,
        "port_range_max": r.icmp_code if icmp else r.port_max,
        "remote_ip_prefix": None if r.remote_cidr is None else str(r.remote_cidr),
        "remote_group_id": r.remote_group_id,
        "remote_address_group_id": r.remote_address_group_id,
        "description": r.description,
        "belongs_to_default_sg": in_default,
        "revision_number": 0,
        "created_at": timestamp(r.created_at),
        "updated_at": timestamp(r.created_at),
        **_owner(project),
    }


def group(g: SecurityGroup) -> dict[str, Any]:
    return {
        "id": g.id,
        "name": g.name,
        "description": g.description,
        "stateful": True,
        "shared": g.shared,
        "security_group_rules": [rule(r, g.project, g.is_default) for r in g.rules],
        "tags": [],
        "revision_number": g.revision,
        "created_at": timestamp(g.created_at),
        "updated_at": timestamp(g.updated_at),
        **_owner(g.project),
    }


def _pair_address(net: Network) -> str:
    return str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)


def port(p: Port) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "description": "",
        "network_id": p.network_id,
        "mac_address": str(p.mac),
        "fixed_ips": [{"subnet_id": None, "ip_address": str(a)} for a in p.fixed_ips],
        "allowed_address_pairs": [
            {"ip_address": _pair_address(n), "mac_address": str(p.mac)} for n in p.allowed_address_pairs
        ],
        "security_groups": list(p.security_groups),
        "port_security_enabled": p.port_security,
        "device_id": p.device_id,
        "device_owner": p.device_owner,
        "binding:host_id": p.host,
        "admin_state_up": True,
        # enforced before the API answered (the change was applied before commit)
        "status": "ACTIVE",
        "tags": [],
        "revision_number": p.revision,
        "created_at": timestamp(p.created_at),
        "updated_at": timestamp(p.updated_at),
        "guestwall:device": p.device,
        "guestwall:dhcp_server": p.dhcp_server,
        **_owner(p.project),
    }


def address_group(a: AddressGroup) -> dict[str, Any]:
    return {
        "id": a.id,
        "name": a.name,
        "description": a.description,
        "addresses": [str(n) for n in a.addresses],
        "revision_number": a.revision,
        "created_at": timestamp(a.created_at),
        "updated_at": timestamp(a.updated_at),
        **_owner(a.project),
    }


def provider_block(b: ProviderBlock) -> dict[str, Any]:
    return {
        "id": b.id,
        "cidr": str(b.cidr),
        "protocol": b.protocol,
        "port_range_min": b.port_min,
        "port_range_max": b.port_max,
        "description": b.description,
    }


def attributes(sample: dict[str, Any]) -> set[str]:
    return set(sample)
