"""``/v2.0/address-groups``: named CIDRs a rule can name as ``remote_address_group_id`` (a kernel set, as a
remote group's members). ``PUT …/add_addresses`` and ``…/remove_addresses`` change the set by deltas."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import Field

from guestwall.api import shapes
from guestwall.api.auth import Caller, CallerDep, WriterDep, changeable, project_for, visible
from guestwall.api.common import Body, if_match, listed, shown, state
from guestwall.api.errors import WRITE_RESPONSES, not_found
from guestwall.cloud import validate as v
from guestwall.model.cloud import AddressGroup, Network

router = APIRouter(prefix="/v2.0/address-groups", tags=["address groups"])
ATTRS = set(shapes.address_group(AddressGroup("", "", "")))
Text = Annotated[str, Field(max_length=255)]
Addresses = Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=10000)]


class AddressGroupIn(Body):
    name: Text = ""
    description: Text = ""
    addresses: Addresses = Field(default_factory=list)
    project_id: Text | None = None
    tenant_id: Text | None = None


class AddressGroupCreate(Body):
    address_group: AddressGroupIn


class AddressGroupChange(Body):
    name: Text | None = None
    description: Text | None = None


class AddressGroupUpdate(Body):
    address_group: AddressGroupChange


class AddressList(Body):
    addresses: Addresses


def find(request: Request, who: Caller, ident: str) -> AddressGroup:
    from guestwall.errors import NotFoundError

    try:
        group = state(request).cloud.get_address_group(ident)
    except NotFoundError:
        raise not_found("address group", ident) from None
    visible(who, "address group", ident, group.project)
    return group


def _networks(texts: list[str]) -> list[Network]:
    return [v.network(t, "address") for t in texts]


def _updated(request: Request, who: Caller, group_id: str, **changes: Any) -> dict[str, Any]:
    """Change a group the caller may change (If-Match honoured); the group as the API shows it."""
    group = find(request, who, group_id)
    changeable(who, "address group", group_id, group.project)
    cloud = state(request).cloud
    updated = cloud.update_address_group(group.id, expect_revision=if_match(request), **changes).value
    return {"address_group": shapes.address_group(updated)}


@router.get("", summary="List address groups")
def list_address_groups(request: Request, who: CallerDep) -> dict[str, Any]:
    groups = state(request).cloud.list_address_groups(None if who.is_admin else who.project)
    return listed(request, [shapes.address_group(g) for g in groups], "address_groups", ATTRS)


@router.post("", status_code=201, responses=WRITE_RESPONSES, summary="Create an address group")
def create_address_group(request: Request, who: WriterDep, body: AddressGroupCreate) -> dict[str, Any]:
    data = body.address_group
    project = project_for(who, data.project_id, data.tenant_id)
    cloud = state(request).cloud
    made = cloud.create_address_group(data.name, project, data.description, _networks(data.addresses)).value
    return {"address_group": shapes.address_group(made)}


@router.get("/{group_id}", summary="Show an address group")
def show_address_group(request: Request, who: CallerDep, group_id: str) -> dict[str, Any]:
    return {"address_group": shown(request, shapes.address_group(find(request, who, group_id)))}


@router.put("/{group_id}", responses=WRITE_RESPONSES, summary="Update an address group")
def update_address_group(
    request: Request, who: WriterDep, group_id: str, body: AddressGroupUpdate
) -> dict[str, Any]:
    change = body.address_group
    return _updated(request, who, group_id, name=change.name, description=change.description)


@router.put("/{group_id}/add_addresses", responses=WRITE_RESPONSES, summary="Add addresses")
def add_addresses(request: Request, who: WriterDep, group_id: str, body: AddressList) -> dict[str, Any]:
    return _updated(request, who, group_id, add=_networks(body.addresses))


@router.put("/{group_id}/remove_addresses", responses=WRITE_RESPONSES, summary="Remove addresses")
def remove_addresses(request: Request, who: WriterDep, group_id: str, body: AddressList) -> dict[str, Any]:
    return _updated(request, who, group_id, remove=_networks(body.addresses))


@router.delete("/{group_id}", status_code=204, responses=WRITE_RESPONSES, summary="Delete an address group")
def delete_address_group(request: Request, who: WriterDep, group_id: str) -> None:
    group = find(request, who, group_id)
    changeable(who, "address group", group_id, group.project)
    state(request).cloud.delete_address_group(group.id, expect_revision=if_match(request))
