"""``/v2.0/security-groups``: create (one or a bulk, atomically), list, show, update, delete.

A project sees its own groups and shared ones; its ``default`` group is created when it first lists its
groups (as Neutron). Another project's group answers 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import Field

from guestwall.api import shapes
from guestwall.api.auth import CallerDep, WriterDep, changeable, project_for, visible
from guestwall.api.common import Body, if_match, listed, shown, state
from guestwall.api.errors import WRITE_RESPONSES, ApiError, not_found
from guestwall.model.cloud import SecurityGroup

router = APIRouter(prefix="/v2.0/security-groups", tags=["security groups"])
ATTRS = set(shapes.group(SecurityGroup("", "", "")))
Text = Annotated[str, Field(max_length=255)]


class SecurityGroupIn(Body):
    name: Text
    description: Text = ""
    stateful: bool = True
    shared: bool = False
    project_id: Text | None = None
    tenant_id: Text | None = None


class SecurityGroupCreate(Body):
    security_group: SecurityGroupIn


class SecurityGroupsCreate(Body):
    security_groups: Annotated[list[SecurityGroupIn], Field(min_length=1, max_length=100)]


class SecurityGroupChange(Body):
    name: Text | None = None
    description: Text | None = None
    shared: bool | None = None


class SecurityGroupUpdate(Body):
    security_group: SecurityGroupChange


def find(request: Request, who: CallerDep, ident: str) -> SecurityGroup:
    """A group the caller can see, by its exact id (names are for listing filters)."""
    from guestwall.errors import NotFoundError

    try:
        group = state(request).cloud.get_group(ident)
    except NotFoundError:
        raise not_found("security group", ident) from None
    if group.id != ident:
        raise not_found("security group", ident)
    visible(who, "security group", ident, group.project, group.shared)
    return group


@router.get("", summary="List security groups")
def list_groups(request: Request, who: CallerDep) -> dict[str, Any]:
    cloud = state(request).cloud
    cloud.ensure_default_group(who.project)
    groups = [shapes.group(g) for g in cloud.list_groups() if who.can_see(g.project, g.shared)]
    return listed(request, groups, "security_groups", ATTRS)


@router.post("", status_code=201, responses=WRITE_RESPONSES, summary="Create security groups")
def create_groups(
    request: Request, who: WriterDep, body: SecurityGroupCreate | SecurityGroupsCreate
) -> dict[str, Any]:
    wanted = [body.security_group] if isinstance(body, SecurityGroupCreate) else body.security_groups
    projects = {project_for(who, g.project_id, g.tenant_id) for g in wanted}
    if len(projects) != 1:
        raise ApiError(400, "a bulk create makes groups of one project")
    for g in wanted:
        if not g.stateful:
            raise ApiError(
                400, "stateless security groups are not supported: guestwall's groups are stateful"
            )
        if g.shared and not who.is_admin:
            raise ApiError(403, "only admins may share a security group")
    shared = {g.shared for g in wanted}
    if len(shared) != 1:
        raise ApiError(400, "a bulk create makes groups that are all shared or all not")
    cloud = state(request).cloud
    made = cloud.create_groups(
        [(g.name, g.description) for g in wanted],
        projects.pop(),
        member_ingress=False,
        shared=shared.pop(),
    ).value
    if isinstance(body, SecurityGroupCreate):
        return {"security_group": shapes.group(made[0])}
    return {"security_groups": [shapes.group(g) for g in made]}


@router.get("/{group_id}", summary="Show a security group")
def show_group(request: Request, who: CallerDep, group_id: str) -> dict[str, Any]:
    return {"security_group": shown(request, shapes.group(find(request, who, group_id)))}


@router.put("/{group_id}", responses=WRITE_RESPONSES, summary="Update a security group")
def update_group(
    request: Request, who: WriterDep, group_id: str, body: SecurityGroupUpdate
) -> dict[str, Any]:
    group = find(request, who, group_id)
    changeable(who, "security group", group_id, group.project, group.shared)
    change = body.security_group
    if change.shared is not None and not who.is_admin:
        raise ApiError(403, "only admins may share a security group")
    cloud = state(request).cloud
    updated = cloud.update_group(
        group.id,
        expect_revision=if_match(request),
        name=change.name,
        description=change.description,
        shared=change.shared,
    ).value
    return {"security_group": shapes.group(updated)}


@router.delete("/{group_id}", status_code=204, responses=WRITE_RESPONSES, summary="Delete a security group")
def delete_group(request: Request, who: WriterDep, group_id: str) -> None:
    group = find(request, who, group_id)
    changeable(who, "security group", group_id, group.project, group.shared)
    if group.is_default and not who.is_admin:
        raise ApiError(
            409, "the default security group cannot be removed", "SecurityGroupCannotRemoveDefault"
        )
    state(request).cloud.delete_group(group.id, expect_revision=if_match(request))
