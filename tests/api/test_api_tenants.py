"""The tenant-isolation matrix: role (admin, member, reader; tokens of project p1) × resource × verb × the
object's project (own: p1, other: p2). Every cell is asserted: its status, that a listing shows exactly
what the caller may see, and that a refused request left every table of the store as it was.

Neutron's rules: another project's object answers 404 (not 403: its existence is not revealed); readers
cannot write (403); only admins create for another project (403) and touch guestwall's own resources.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from apiserver import ApiServer

from netns_fixtures import needs_netns

pytestmark = needs_netns
_n = itertools.count(1)
VERBS = ("list", "show", "create", "update", "delete")
ROLES = ("admin", "member", "reader")
SIDES = ("own", "other")
PROJECT = {"own": "p1", "other": "p2"}


def _ok(resp: httpx.Response) -> dict[str, Any]:
    assert resp.status_code < 300, resp.text
    body: dict[str, Any] = resp.json()
    return body


@dataclass(frozen=True)
class Resource:
    path: str
    collection: str
    make: Callable[[ApiServer, str], str]  # an object of this project -> its id
    create_body: Callable[[ApiServer, str], Any]  # a valid create body for an object of this project
    update_body: Any  # None: no update (405)
    admin_only: bool = False


def _group(server: ApiServer, project: str) -> str:
    body = {"security_group": {"name": f"g{next(_n)}"}}
    return str(
        _ok(server.client(project, "admin").post("/v2.0/security-groups", json=body))["security_group"]["id"]
    )


def _rule_body(server: ApiServer, project: str) -> Any:
    n = next(_n)
    return {
        "security_group_rule": {
            "security_group_id": _group(server, project),
            "direction": "ingress",
            "protocol": "tcp",
            "port_range_min": 1000 + n,
            "port_range_max": 1000 + n,
        }
    }


def _rule(server: ApiServer, project: str) -> str:
    created = server.client(project, "admin").post(
        "/v2.0/security-group-rules", json=_rule_body(server, project)
    )
    return str(_ok(created)["security_group_rule"]["id"])


def _port_body(server: ApiServer, project: str) -> Any:
    n = next(_n)
    return {"port": {"project_id": project, "fixed_ips": [{"ip_address": f"10.77.{n // 200}.{n % 200 + 1}"}]}}


def _port(server: ApiServer, project: str) -> str:
    return str(
        _ok(server.client(project, "admin").post("/v2.0/ports", json=_port_body(server, project)))["port"][
            "id"
        ]
    )


def _ag_body(server: ApiServer, project: str) -> Any:
    return {"address_group": {"name": f"a{next(_n)}", "project_id": project, "addresses": ["10.5.0.0/24"]}}


def _ag(server: ApiServer, project: str) -> str:
    created = server.client(project, "admin").post("/v2.0/address-groups", json=_ag_body(server, project))
    return str(_ok(created)["address_group"]["id"])


def _block_body(server: ApiServer, project: str) -> Any:
    n = next(_n)
    return {"provider_block": {"cidr": f"198.51.{n % 250}.{(n // 250) * 8}/29"}}


def _block(server: ApiServer, project: str) -> str:
    created = server.client("admin", "admin").post(
        "/guestwall/v1/provider-blocks", json=_block_body(server, project)
    )
    return str(_ok(created)["provider_block"]["id"])


def _filter_xml(name: str) -> str:
    return f"<filter name='{name}' chain='root'><rule action='accept' direction='in'><tcp dstportstart='80'/></rule></filter>"


def _filter_body(server: ApiServer, project: str) -> Any:
    return _filter_xml(f"m{next(_n)}")


def _filter(server: ApiServer, project: str) -> str:
    name = f"m{next(_n)}"
    server.client("admin", "admin").post(
        "/guestwall/v1/filters", content=_filter_xml(name)
    ).raise_for_status()
    return name


def _binding_body(server: ApiServer, project: str) -> Any:
    n = next(_n)
    return (
        "<filterbinding><owner><name>vm</name><uuid>00000000-0000-4000-8000-000000000001</uuid></owner>"
        f"<portdev name='gwm{n}'/><mac address='52:54:00:00:{n // 256:02x}:{n % 256:02x}'/>"
        "<filterref filter='clean-traffic'><parameter name='IP' value='10.0.0.7'/></filterref></filterbinding>"
    )


def _binding(server: ApiServer, project: str) -> str:
    body = _binding_body(server, project)
    created = server.client("admin", "admin").post("/guestwall/v1/bindings", content=body)
    return str(_ok(created)["binding"]["portdev"])


RESOURCES = {
    "security-groups": Resource(
        "/v2.0/security-groups",
        "security_groups",
        _group,
        lambda s, p: {"security_group": {"name": f"c{next(_n)}", "project_id": p}},
        {"security_group": {"description": "changed"}},
    ),
    "security-group-rules": Resource(
        "/v2.0/security-group-rules", "security_group_rules", _rule, _rule_body, None
    ),
    "ports": Resource("/v2.0/ports", "ports", _port, _port_body, {"port": {"name": "changed"}}),
    "address-groups": Resource(
        "/v2.0/address-groups", "address_groups", _ag, _ag_body, {"address_group": {"description": "changed"}}
    ),
    "provider-blocks": Resource(
        "/guestwall/v1/provider-blocks", "provider_blocks", _block, _block_body, None, admin_only=True
    ),
    "filters": Resource(
        "/guestwall/v1/filters", "filters", _filter, _filter_body, "update-xml", admin_only=True
    ),
    "bindings": Resource(
        "/guestwall/v1/bindings", "bindings", _binding, _binding_body, None, admin_only=True
    ),
}


def expected(res: Resource, verb: str, role: str, side: str) -> int:
    """The status a cell must answer."""
    success = {"list": 200, "show": 200, "create": 201, "update": 200, "delete": 204}[verb]
    if verb == "update" and res.update_body is None:
        return 405  # rules, blocks and bindings are changed by replacing them
    if res.admin_only:
        return success if role == "admin" else 403
    writes = verb in ("create", "update", "delete")
    if role == "admin" or (side == "own" and not (writes and role == "reader")):
        return success
    if writes and role == "reader":
        return 403
    if verb == "list":
        return 200
    if verb == "create":
        # a rule goes into a group, which another project cannot see; others name their project
        return 404 if res.collection == "security_group_rules" else 403
    return 404


CELLS = [(name, verb, role, side) for name in RESOURCES for verb in VERBS for role in ROLES for side in SIDES]


@pytest.mark.parametrize(("resource", "verb", "role", "side"), CELLS)
def test_cell(server: ApiServer, resource: str, verb: str, role: str, side: str) -> None:
    res = RESOURCES[resource]
    if verb == "create":
        body = res.create_body(server, PROJECT[side])
        before = server.snapshot()
        client = server.client("p1", role)
        resp = (
            client.post(res.path, content=body) if isinstance(body, str) else client.post(res.path, json=body)
        )
        ident = None
    else:
        ident = res.make(server, PROJECT[side])
        before = server.snapshot()
        resp, _ = _call_on(server, res, verb, role, ident)
    want = expected(res, verb, role, side)
    assert resp.status_code == want, resp.text
    if want >= 400:
        error = resp.json()["NeutronError"]
        assert error["message"] and error["type"]
        assert server.snapshot() == before, "a refused request changed the store"
    if verb == "list" and want == 200:
        ids = {str(item.get("id") or item.get("name")) for item in resp.json()[res.collection]}
        sees = role == "admin" or side == "own" or res.admin_only
        assert (ident in ids) == sees


def _call_on(
    server: ApiServer, res: Resource, verb: str, role: str, ident: str
) -> tuple[httpx.Response, str]:
    client = server.client("p1", role)
    if verb == "list":
        return client.get(res.path), ident
    if verb == "show":
        return client.get(f"{res.path}/{ident}"), ident
    if verb == "update":
        if res.update_body == "update-xml":
            return client.put(f"{res.path}/{ident}", content=_filter_xml(ident).replace("80", "81")), ident
        return client.put(f"{res.path}/{ident}", json=res.update_body or {}), ident
    return client.delete(f"{res.path}/{ident}"), ident


@pytest.mark.parametrize("role", ROLES)
def test_hosts_are_for_admins(server: ApiServer, role: str) -> None:
    resp = server.client("p1", role).get("/guestwall/v1/hosts")
    assert resp.status_code == (200 if role == "admin" else 403)


def test_shared_group_is_visible_and_usable_but_not_changeable(server: ApiServer) -> None:
    admin = server.client("p2", "admin")
    shared = _ok(
        admin.post("/v2.0/security-groups", json={"security_group": {"name": "shared", "shared": True}})
    )
    ident = shared["security_group"]["id"]
    member = server.client("p1", "member")
    assert member.get(f"/v2.0/security-groups/{ident}").status_code == 200
    before = server.snapshot()
    assert (
        member.put(f"/v2.0/security-groups/{ident}", json={"security_group": {"name": "x"}}).status_code
        == 403
    )
    assert member.delete(f"/v2.0/security-groups/{ident}").status_code == 403
    assert server.snapshot() == before
    port = _ok(member.post("/v2.0/ports", json={"port": {"security_groups": [ident]}}))["port"]
    assert port["security_groups"] == [ident]
    assert member.delete(f"/v2.0/ports/{port['id']}").status_code == 204


def test_no_token_and_revoked_token_answer_401(server: ApiServer) -> None:
    before = server.snapshot()
    assert httpx.get(f"{server.url}/v2.0/security-groups").status_code == 401
    bad = httpx.post(
        f"{server.url}/v2.0/security-groups",
        headers={"X-Auth-Token": "gw_nope"},
        json={"security_group": {"name": "x"}},
    )
    assert bad.status_code == 401 and bad.json()["NeutronError"]["type"] == "NotAuthenticated"
    assert server.snapshot() == before


def test_rbac_policy_shares_a_group_with_every_project(server: ApiServer) -> None:
    owner, other = server.client("p2", "member"), server.client("p1", "member")
    group = _ok(owner.post("/v2.0/security-groups", json={"security_group": {"name": "to-share"}}))["security_group"]
    assert other.get(f"/v2.0/security-groups/{group['id']}").status_code == 404
    policy = {"object_type": "security_group", "object_id": group["id"], "action": "access_as_shared"}
    before = server.snapshot()
    for bad in ({**policy, "target_tenant": "p1"}, {**policy, "object_type": "network", "target_tenant": "*"}):
        assert owner.post("/v2.0/rbac-policies", json={"rbac_policy": bad}).status_code == 400
    assert other.post("/v2.0/rbac-policies", json={"rbac_policy": {**policy, "target_tenant": "*"}}).status_code == 404
    assert server.snapshot() == before
    made = _ok(owner.post("/v2.0/rbac-policies", json={"rbac_policy": {**policy, "target_tenant": "*"}}))["rbac_policy"]
    shown = _ok(other.get(f"/v2.0/security-groups/{group['id']}"))["security_group"]
    assert shown["shared"] is True
    assert made["id"] in [p["id"] for p in _ok(owner.get("/v2.0/rbac-policies"))["rbac_policies"]]
    assert _ok(other.get("/v2.0/rbac-policies"))["rbac_policies"] == []  # not its policy to see
    port = _ok(other.post("/v2.0/ports", json={"port": {"security_groups": [group["id"]]}}))["port"]
    assert owner.delete(f"/v2.0/rbac-policies/{made['id']}").status_code == 409  # in use by p1's port
    assert other.delete(f"/v2.0/ports/{port['id']}").status_code == 204
    assert owner.delete(f"/v2.0/rbac-policies/{made['id']}").status_code == 204
    assert other.get(f"/v2.0/security-groups/{group['id']}").status_code == 404
