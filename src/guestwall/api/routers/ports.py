"""``/v2.0/ports``: guestwall's cloud ports in Neutron's shape (device, MAC, fixed IPs, allowed address pairs,
security groups, port security, host). The host-side device is ``guestwall:device``; without it, the name
Nova gives a libvirt tap device: ``tap`` and the first 11 characters of the port's id."""

from __future__ import annotations

import secrets
from typing import Annotated, Any
from uuid import uuid4

from fastapi import APIRouter, Request
from pydantic import Field

from guestwall.api import shapes
from guestwall.api.auth import Caller, CallerDep, WriterDep, changeable, project_for, visible
from guestwall.api.common import Body, if_match, listed, shown, state
from guestwall.api.errors import WRITE_RESPONSES, ApiError, not_found
from guestwall.api.routers.security_groups import find as find_group
from guestwall.cloud import validate as v
from guestwall.cloud.ports import PortChanges
from guestwall.model.cloud import Network, Port
from guestwall.model.mac import MacAddress

router = APIRouter(prefix="/v2.0/ports", tags=["ports"])
ATTRS = set(shapes.port(Port("", "", MacAddress(0), "")))
Text = Annotated[str, Field(max_length=255)]


class FixedIp(Body):
    ip_address: Text | None = None
    subnet_id: Text | None = None


class AddressPair(Body):
    ip_address: Text
    mac_address: Text | None = None


class PortChange(Body):
    name: Text | None = None
    mac_address: Text | None = None
    fixed_ips: Annotated[list[FixedIp], Field(max_length=64)] | None = None
    allowed_address_pairs: Annotated[list[AddressPair], Field(max_length=64)] | None = None
    security_groups: Annotated[list[Text], Field(max_length=64)] | None = None
    port_security_enabled: bool | None = None
    device_id: Annotated[str, Field(max_length=64)] | None = None
    device_owner: Text | None = None
    host: Text | None = Field(default=None, alias="binding:host_id")
    dhcp_server: bool | None = Field(default=None, alias="guestwall:dhcp_server")
    admin_state_up: bool | None = None


class PortIn(PortChange):
    network_id: Annotated[str, Field(max_length=64)] = ""
    device: Annotated[str, Field(max_length=15)] | None = Field(default=None, alias="guestwall:device")
    project_id: Text | None = None
    tenant_id: Text | None = None


class PortCreate(Body):
    port: PortIn


class PortsCreate(Body):
    ports: Annotated[list[PortIn], Field(min_length=1, max_length=1000)]


class PortUpdate(Body):
    port: PortChange


def find(request: Request, who: Caller, ident: str) -> Port:
    from guestwall.errors import NotFoundError

    try:
        port = state(request).cloud.get_port(ident)
    except NotFoundError:
        raise not_found("port", ident) from None
    if port.id != ident:
        raise not_found("port", ident)
    visible(who, "port", ident, port.project)
    return port


def _random_mac() -> MacAddress:
    """Neutron's default base MAC (fa:16:3e) with three random bytes."""
    return MacAddress.from_bytes(b"\xfa\x16\x3e" + secrets.token_bytes(3))


def _fixed_ips(items: list[FixedIp]) -> tuple[Any, ...]:
    if any(item.ip_address is None for item in items):
        raise ApiError(
            400, "every fixed_ips entry needs an ip_address: guestwall does not allocate addresses"
        )
    return tuple(v.fixed_ip(str(item.ip_address)) for item in items)


def _pairs(items: list[AddressPair], mac: MacAddress) -> tuple[Network, ...]:
    for item in items:
        if item.mac_address is not None and v.mac(item.mac_address) != mac:
            raise ApiError(
                400, f"allowed address pair {item.ip_address}: a MAC other than the port's is not supported"
            )
    return tuple(v.network(item.ip_address, "allowed address pair") for item in items)


def _groups(request: Request, who: Caller, ids: list[str], project: str) -> tuple[str, ...]:
    out = []
    for ident in ids:
        group = find_group(request, who, ident)
        if group.project != project and not group.shared:
            raise not_found("security group", ident)
        out.append(group.id)
    return tuple(out)


def _changes(request: Request, who: Caller, body: PortChange, port: Port) -> PortChanges:
    if body.admin_state_up is False:
        raise ApiError(400, "admin_state_up false is not supported")
    mac = v.mac(body.mac_address) if body.mac_address is not None else port.mac
    return PortChanges(
        mac=mac if body.mac_address is not None else None,
        name=body.name,
        fixed_ips=_fixed_ips(body.fixed_ips) if body.fixed_ips is not None else None,
        allowed_address_pairs=_pairs(body.allowed_address_pairs, mac)
        if body.allowed_address_pairs is not None
        else None,
        security_groups=_groups(request, who, body.security_groups, port.project)
        if body.security_groups is not None
        else None,
        port_security=body.port_security_enabled,
        device_id=body.device_id,
        device_owner=body.device_owner,
        host=body.host,
        dhcp_server=body.dhcp_server,
    )


def _new_port(request: Request, who: Caller, body: PortIn) -> Port:
    project = project_for(who, body.project_id, body.tenant_id)
    ident = str(uuid4())
    device = v.device(body.device) if body.device else "tap" + ident[:11]
    base = Port(ident, device, _random_mac(), project, network_id=body.network_id)
    return _changes(request, who, body, base).applied_to(base)


@router.get("", summary="List ports")
def list_ports(request: Request, who: CallerDep) -> dict[str, Any]:
    ports = state(request).cloud.list_ports(None if who.is_admin else who.project)
    return listed(request, [shapes.port(p) for p in ports], "ports", ATTRS)


@router.post("", status_code=201, responses=WRITE_RESPONSES, summary="Create ports")
def create_ports(request: Request, who: WriterDep, body: PortCreate | PortsCreate) -> dict[str, Any]:
    wanted = [body.port] if isinstance(body, PortCreate) else body.ports
    new = [_new_port(request, who, p) for p in wanted]
    # a port created without security_groups goes into its project's default group, as in Neutron
    defaulted = {p.id for p, b in zip(new, wanted, strict=True) if b.security_groups is None}
    made = state(request).cloud.create_ports(new, default_group=defaulted).value
    by_id = {p.id: p for p in made}
    shaped = [shapes.port(by_id[p.id]) for p in new]
    return {"port": shaped[0]} if isinstance(body, PortCreate) else {"ports": shaped}


@router.get("/{port_id}", summary="Show a port")
def show_port(request: Request, who: CallerDep, port_id: str) -> dict[str, Any]:
    return {"port": shown(request, shapes.port(find(request, who, port_id)))}


@router.put("/{port_id}", responses=WRITE_RESPONSES, summary="Update a port")
def update_port(request: Request, who: WriterDep, port_id: str, body: PortUpdate) -> dict[str, Any]:
    port = find(request, who, port_id)
    changeable(who, "port", port_id, port.project)
    changes = _changes(request, who, body.port, port)
    cloud = state(request).cloud
    updated = cloud.update_port(port.id, changes, expect_revision=if_match(request)).value
    return {"port": shapes.port(updated)}


@router.delete("/{port_id}", status_code=204, responses=WRITE_RESPONSES, summary="Delete a port")
def delete_port(request: Request, who: WriterDep, port_id: str) -> None:
    port = find(request, who, port_id)
    changeable(who, "port", port_id, port.project)
    state(request).cloud.delete_port(port.id, expect_revision=if_match(request))
