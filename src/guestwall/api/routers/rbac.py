"""``/v2.0/rbac-policies`` for security groups shared with every project: ``access_as_shared`` to
``target_tenant: "*"`` is a group's ``shared`` flag, so a policy is derived from the group (its id is
stable: a UUID of the group's id). Sharing with one chosen project is not supported (400)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import NAMESPACE_URL, uuid5

from fastapi import APIRouter, Request
from pydantic import Field

from guestwall.api.auth import Caller, CallerDep, WriterDep, changeable
from guestwall.api.common import Body, listed, shown, state
from guestwall.api.errors import WRITE_RESPONSES, ApiError, not_found
from guestwall.api.routers.security_groups import find as find_group
from guestwall.model.cloud import SecurityGroup

router = APIRouter(prefix="/v2.0/rbac-policies", tags=["rbac policies"])
_NS = uuid5(NAMESPACE_URL, "https://guestwall.invalid/api/rbac")
ATTRS = {"id", "object_type", "object_id", "action", "target_tenant", "project_id", "tenant_id"}
Text = Annotated[str, Field(max_length=255)]


class PolicyIn(Body):
    object_type: Text
    object_id: Text
    action: Text
    target_tenant: Text
    project_id: Text | None = None
    tenant_id: Text | None = None


class PolicyCreate(Body):
    rbac_policy: PolicyIn


def policy_id(group_id: str) -> str:
    return str(uuid5(_NS, group_id))


def _shape(group: SecurityGroup) -> dict[str, Any]:
    return {
        "id": policy_id(group.id),
        "object_type": "security_group",
        "object_id": group.id,
        "action": "access_as_shared",
        "target_tenant": "*",
        "project_id": group.project,
        "tenant_id": group.project,
    }


def _policies(request: Request, who: Caller) -> list[SecurityGroup]:
    """The shared groups whose policies the caller may see: its own (all of them for an admin)."""
    return [g for g in state(request).cloud.list_groups() if g.shared and who.owns(g.project)]


def _find(request: Request, who: Caller, ident: str) -> SecurityGroup:
    for group in _policies(request, who):
        if policy_id(group.id) == ident:
            return group
    raise not_found("rbac policy", ident)


@router.get("", summary="List RBAC policies")
def list_policies(request: Request, who: CallerDep) -> dict[str, Any]:
    return listed(request, [_shape(g) for g in _policies(request, who)], "rbac_policies", ATTRS)


@router.post("", status_code=201, responses=WRITE_RESPONSES, summary="Share a security group with everyone")
def create_policy(request: Request, who: WriterDep, body: PolicyCreate) -> dict[str, Any]:
    data = body.rbac_policy
    if data.object_type != "security_group":
        raise ApiError(400, f"object_type '{data.object_type}' is not supported: only security_group")
    if data.action != "access_as_shared":
        raise ApiError(400, f"action '{data.action}' is not supported: only access_as_shared")
    if data.target_tenant != "*":
        raise ApiError(400, "only target_tenant '*' (every project) is supported")
    group = find_group(request, who, data.object_id)
    changeable(who, "security group", group.id, group.project, group.shared)
    if group.shared:
        raise ApiError(
            409, f"security group {group.id} is already shared with every project", "RbacPolicyExists"
        )
    shared = state(request).cloud.update_group(group.id, shared=True).value
    return {"rbac_policy": _shape(shared)}


@router.get("/{policy}", summary="Show an RBAC policy")
def show_policy(request: Request, who: CallerDep, policy: str) -> dict[str, Any]:
    return {"rbac_policy": shown(request, _shape(_find(request, who, policy)))}


@router.delete("/{policy}", status_code=204, responses=WRITE_RESPONSES, summary="Stop sharing a group")
def delete_policy(request: Request, who: WriterDep, policy: str) -> None:
    group = _find(request, who, policy)
    cloud = state(request).cloud
    users = [p.id for p in cloud.list_ports() if group.id in p.security_groups and p.project != group.project]
    if users:
        raise ApiError(409, f"security group {group.id} is used by other projects' ports", "RbacPolicyInUse")
    cloud.update_group(group.id, shared=False)
