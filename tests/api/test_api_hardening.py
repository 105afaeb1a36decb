"""The REST API as a way in for the hardening cases (issue 15): what the CLI and the Python API refuse, it
refuses too, with the store left as it was."""

from __future__ import annotations

from typing import Any

import httpx
from apiserver import ApiServer

from guestwall.cloud import translate as tr
from netns_fixtures import needs_netns

pytestmark = needs_netns


def refused(server: ApiServer, call: Any) -> str:
    before = server.snapshot()
    resp = call()
    assert 400 <= resp.status_code < 500, resp.text
    assert server.snapshot() == before, "a refused request changed the store"
    return str(resp.text)


def group(client: httpx.Client, name: str) -> dict[str, Any]:
    resp = client.post("/v2.0/security-groups", json={"security_group": {"name": name}})
    assert resp.status_code == 201, resp.text
    made: dict[str, Any] = resp.json()["security_group"]
    return made


def test_rules_with_impossible_ports_are_refused(server: ApiServer) -> None:
    client = server.client()
    web = group(client, "web-h")
    for low, high in ((90, 80), (0, 0), (1, 70000)):
        rule = {
            "security_group_id": web["id"],
            "direction": "ingress",
            "protocol": "tcp",
            "port_range_min": low,
            "port_range_max": high,
        }
        refused(
            server, lambda r=rule: client.post("/v2.0/security-group-rules", json={"security_group_rule": r})
        )


def test_ports_with_hostile_devices_or_multicast_addresses_are_refused(server: ApiServer) -> None:
    client = server.client()
    for fields in (
        {"guestwall:device": 'tap"x'},
        {"guestwall:device": "tap1*"},
        {"mac_address": "01:00:5e:00:00:01"},
        {"fixed_ips": [{"ip_address": "224.0.0.1"}]},
    ):
        port = {"mac_address": "52:54:00:00:10:01", **fields}
        refused(server, lambda p=port: client.post("/v2.0/ports", json={"port": p}))


def test_admin_routes_refuse_what_the_cli_refuses(server: ApiServer) -> None:
    admin = server.client("admin", "admin")
    text = refused(
        server,
        lambda: admin.post("/guestwall/v1/filters", content="<filter name='gw-default-drop' chain='root'/>"),
    )
    assert "owned by the cloud layer" in text
    inverted = "<filter name='inv'><rule action='drop' direction='in'><tcp dstportstart='90' dstportend='80'/></rule></filter>"
    assert "is below" in refused(server, lambda: admin.post("/guestwall/v1/filters", content=inverted))
    every = {"provider_block": {"cidr": "0.0.0.0/0"}}
    assert "--force" in refused(server, lambda: admin.post("/guestwall/v1/provider-blocks", json=every))
    resp = admin.post(
        "/guestwall/v1/provider-blocks", json={"provider_block": {"cidr": "0.0.0.0/0", "force": True}}
    )
    assert resp.status_code == 201, resp.text
    admin.delete(f"/guestwall/v1/provider-blocks/{resp.json()['provider_block']['id']}")


def test_a_group_named_by_a_filter_cannot_be_deleted(server: ApiServer) -> None:
    client, admin = server.client(), server.client("admin", "admin")
    ssh = group(client, "ssh-h")
    xml = (
        "<filter name='uses-ssh-h'><rule action='accept' direction='in'>"
        f"<tcp ipset='{tr.group_set_name(ssh['id'])}' ipsetflags='src'/></rule></filter>"
    )
    assert admin.post("/guestwall/v1/filters", content=xml).status_code == 201
    text = refused(server, lambda: client.delete(f"/v2.0/security-groups/{ssh['id']}"))
    assert "uses-ssh-h" in text
