"""``/v2.0/security-group-rules``: create (one or a bulk, atomically), list, show, delete. No update: rules
are immutable, as in Neutron. A rule is visible and changeable as its group is."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import Field

from guestwall.api import shapes
from guestwall.api.auth import Caller, CallerDep, WriterDep, changeable, project_for, visible
from guestwall.api.common import Body, listed, shown, state
from guestwall.api.errors import WRITE_RESPONSES, ApiError, not_found
from guestwall.api.routers.security_groups import find as find_group
from guestwall.cloud import validate as v
from guestwall.cloud.rules import RuleSpec
from guestwall.model.cloud import ICMP_PROTOCOLS, Ethertype, RuleDirection, SecurityGroup, SecurityGroupRule

router = APIRouter(prefix="/v2.0/security-group-rules", tags=["security group rules"])
ATTRS = set(shapes.rule(SecurityGroupRule("", "", RuleDirection.INGRESS, Ethertype.IPV4), "", False))
Text = Annotated[str, Field(max_length=255)]
PortNumber = int | Annotated[str, Field(max_length=8)] | None


class RuleIn(Body):
    security_group_id: Text
    direction: Text
    ethertype: Text = "IPv4"
    protocol: Text | int | None = None
    port_range_min: PortNumber = None
    port_range_max: PortNumber = None
    remote_ip_prefix: Text | None = None
    remote_group_id: Text | None = None
    remote_address_group_id: Text | None = None
    description: Text = ""
    project_id: Text | None = None
    tenant_id: Text | None = None


class RuleCreate(Body):
    security_group_rule: RuleIn


class RulesCreate(Body):
    security_group_rules: Annotated[list[RuleIn], Field(min_length=1, max_length=100)]


def _number(value: int | str | None, what: str) -> int | None:
    if value is None or value == "":
        return None
    text = str(value).strip()
    if not text.lstrip("-").isdigit():
        raise ApiError(400, f"invalid {what} '{value}': expected a number")
    return int(text)


def spec_of(rule: RuleIn) -> RuleSpec:
    """A Neutron rule body -> the cloud layer's RuleSpec, validated as the CLI validates its options."""
    cidr = v.network(rule.remote_ip_prefix, "remote IP prefix") if rule.remote_ip_prefix else None
    ether = v.ethertype(rule.ethertype)
    protocol = v.protocol(None if rule.protocol is None else str(rule.protocol), ether)
    low = _number(rule.port_range_min, "port_range_min")
    high = _number(rule.port_range_max, "port_range_max")
    ports = None
    icmp_type = icmp_code = None
    if protocol in ICMP_PROTOCOLS:  # Neutron keeps an ICMP rule's type and code in the port range fields
        icmp_type, icmp_code = v.icmp_value(low, "type"), v.icmp_value(high, "code")
    elif low is not None or high is not None:
        first = low if low is not None else high
        last = high if high is not None else low
        ports = v.port_range(f"{first}:{last}")
    return RuleSpec(
        direction=v.direction(rule.direction),
        ethertype=ether,
        protocol=protocol,
        ports=ports,
        icmp_type=icmp_type,
        icmp_code=icmp_code,
        remote_cidr=cidr,
        remote_group=rule.remote_group_id,
        description=rule.description,
        remote_address_group=rule.remote_address_group_id,
    )


def _check_remotes(request: Request, who: Caller, rule: RuleIn) -> None:
    if rule.remote_group_id is not None:
        find_group(request, who, rule.remote_group_id)
    if rule.remote_address_group_id is not None:
        from guestwall.api.routers.address_groups import find as find_address_group

        find_address_group(request, who, rule.remote_address_group_id)


def _all_rules(request: Request, who: Caller) -> list[tuple[SecurityGroup, SecurityGroupRule]]:
    groups = state(request).cloud.list_groups()
    return [(g, r) for g in groups if who.can_see(g.project, g.shared) for r in g.rules]


def _find(request: Request, who: Caller, rule_id: str) -> tuple[SecurityGroup, SecurityGroupRule]:
    from guestwall.errors import NotFoundError

    cloud = state(request).cloud
    try:
        rule = cloud.get_rule(rule_id)
        group = cloud.get_group(rule.group_id)
    except NotFoundError:
        raise not_found("security group rule", rule_id) from None
    visible(who, "security group rule", rule_id, group.project, group.shared)
    return group, rule


@router.get("", summary="List security group rules")
def list_rules(request: Request, who: CallerDep) -> dict[str, Any]:
    items = [shapes.rule(r, g.project, g.is_default) for g, r in _all_rules(request, who)]
    return listed(request, items, "security_group_rules", ATTRS)


@router.post("", status_code=201, responses=WRITE_RESPONSES, summary="Create security group rules")
def create_rules(request: Request, who: WriterDep, body: RuleCreate | RulesCreate) -> dict[str, Any]:
    wanted = [body.security_group_rule] if isinstance(body, RuleCreate) else body.security_group_rules
    specs: list[tuple[str, RuleSpec]] = []
    groups: dict[str, SecurityGroup] = {}
    for rule in wanted:
        group = find_group(request, who, rule.security_group_id)
        changeable(who, "security group", group.id, group.project, group.shared)
        if project_for(who, rule.project_id, rule.tenant_id) != group.project and (
            rule.project_id or rule.tenant_id
        ):
            raise ApiError(400, "a rule's project is its security group's project")
        _check_remotes(request, who, rule)
        groups[group.id] = group
        specs.append((group.id, spec_of(rule)))
    made = state(request).cloud.create_rules(specs).value
    shaped = [shapes.rule(r, groups[r.group_id].project, groups[r.group_id].is_default) for r in made]
    if isinstance(body, RuleCreate):
        return {"security_group_rule": shaped[0]}
    return {"security_group_rules": shaped}


@router.get("/{rule_id}", summary="Show a security group rule")
def show_rule(request: Request, who: CallerDep, rule_id: str) -> dict[str, Any]:
    group, rule = _find(request, who, rule_id)
    return {"security_group_rule": shown(request, shapes.rule(rule, group.project, group.is_default))}


@router.delete(
    "/{rule_id}", status_code=204, responses=WRITE_RESPONSES, summary="Delete a security group rule"
)
def delete_rule(request: Request, who: WriterDep, rule_id: str) -> None:
    group, rule = _find(request, who, rule_id)
    changeable(who, "security group rule", rule_id, group.project, group.shared)
    state(request).cloud.delete_rule(rule.id)
