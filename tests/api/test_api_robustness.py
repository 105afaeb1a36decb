"""What a server must survive: concurrent writers, huge and malformed bodies, stale revisions, bad queries;
every refused request leaves the store as it was. And Neutron's list conventions."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from apiserver import ApiServer

from netns_fixtures import needs_netns

pytestmark = needs_netns


def _group(client: httpx.Client, name: str) -> dict[str, Any]:
    resp = client.post("/v2.0/security-groups", json={"security_group": {"name": name}})
    assert resp.status_code == 201, resp.text
    group: dict[str, Any] = resp.json()["security_group"]
    return group


def _refused(server: ApiServer, call: Any, status: int) -> dict[str, Any]:
    before = server.snapshot()
    resp = call()
    assert resp.status_code == status, resp.text
    assert server.snapshot() == before, "a refused request changed the store"
    error: dict[str, Any] = resp.json()["NeutronError"]
    assert set(error) == {"type", "message", "detail"} and error["message"]
    return error


@pytest.fixture
def store_server(store_url: str, tmp_path: Path) -> Iterator[ApiServer]:
    """A server of its own on each store backend (SQLite, and PostgreSQL when GUESTWALL_TEST_PG is set)."""
    from netns_fixtures import new_prefix

    api = ApiServer(tmp_path / "unused.db", f"{new_prefix('a')}-api", store_url=store_url)
    try:
        yield api.start()
    finally:
        api.stop()


def test_fifty_concurrent_writers_lose_no_update(store_server: ApiServer) -> None:
    server = store_server
    group = _group(server.client(), "busy")
    ag = server.client().post("/v2.0/address-groups", json={"address_group": {"name": "busy"}}).json()
    ag_id = ag["address_group"]["id"]

    def write(n: int) -> tuple[int, int]:
        with server.client() as client:
            rule = {
                "security_group_id": group["id"],
                "direction": "ingress",
                "protocol": "tcp",
                "port_range_min": 2000 + n,
                "port_range_max": 2000 + n,
            }
            one = client.post("/v2.0/security-group-rules", json={"security_group_rule": rule})
            two = client.put(
                f"/v2.0/address-groups/{ag_id}/add_addresses", json={"addresses": [f"10.60.{n}.0/24"]}
            )
            return one.status_code, two.status_code

    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(write, range(50)))
    assert results == [(201, 200)] * 50
    client = server.client()
    stored = client.get(f"/v2.0/security-groups/{group['id']}").json()["security_group"]
    ports = {r["port_range_min"] for r in stored["security_group_rules"] if r["protocol"] == "tcp"}
    assert ports == {2000 + n for n in range(50)}
    assert stored["revision_number"] == group["revision_number"] + 50
    addresses = client.get(f"/v2.0/address-groups/{ag_id}").json()["address_group"]
    assert set(addresses["addresses"]) == {f"10.60.{n}.0/24" for n in range(50)}
    assert addresses["revision_number"] == 50


def test_bodies_over_one_megabyte_are_refused(server: ApiServer) -> None:
    client = server.client()
    huge = {"security_group": {"name": "big", "description": "x" * (1 << 20)}}
    error = _refused(server, lambda: client.post("/v2.0/security-groups", json=huge), 413)
    assert error["type"] == "RequestEntityTooLarge"

    def chunks() -> Any:  # no Content-Length: counted as it streams
        yield b'{"security_group": {"name": "big", "description": "'
        for _ in range(20):
            yield b"y" * 65536
        yield b'"}}'

    _refused(server, lambda: client.post("/v2.0/security-groups", content=chunks()), 413)


@pytest.mark.parametrize(
    "body",
    [
        b'{"security_group": {"name": "x"',
        b"not json",
        b"",
        b"[]",
        b'{"security_group": {"name": 5, "bogus": 1}}',
    ],
)
def test_malformed_json_answers_400_in_neutron_shape(server: ApiServer, body: bytes) -> None:
    client = server.client()
    error = _refused(server, lambda: client.post("/v2.0/security-groups", content=body), 400)
    assert error["type"] == "HTTPBadRequest"


def test_invalid_values_are_refused_with_the_cli_messages(server: ApiServer) -> None:
    client = server.client()
    group = _group(client, "vals")
    cases = [
        ({"remote_ip_prefix": "10.0.0.1/8"}, "host bits are set"),
        ({"protocol": "tcp", "port_range_min": 0, "port_range_max": 5}, "ports are 1 to 65535"),
        ({"protocol": "tcp", "port_range_min": 90, "port_range_max": 80}, "first port is above the last"),
        ({"protocol": "bogus"}, "invalid protocol"),
        ({"ethertype": "IPv6", "remote_ip_prefix": "10.0.0.0/8"}, "is IPv4 but"),
        ({"direction": "sideways"}, "expected ingress or egress"),
    ]
    for extra, message in cases:
        rule = {"security_group_id": group["id"], "direction": "ingress", **extra}
        error = _refused(
            server,
            lambda r=rule: client.post("/v2.0/security-group-rules", json={"security_group_rule": r}),
            400,
        )
        assert message in error["message"]


def test_if_match_guards_updates_and_deletes(server: ApiServer) -> None:
    client = server.client()
    group = _group(client, "guarded")
    url = f"/v2.0/security-groups/{group['id']}"
    ok = client.put(
        url, json={"security_group": {"description": "a"}}, headers={"If-Match": "revision_number=0"}
    )
    assert ok.status_code == 200 and ok.json()["security_group"]["revision_number"] == 1
    stale = {"If-Match": "revision_number=0"}
    _refused(
        server, lambda: client.put(url, json={"security_group": {"description": "b"}}, headers=stale), 412
    )
    _refused(server, lambda: client.delete(url, headers=stale), 412)
    assert client.delete(url, headers={"If-Match": "revision_number=1"}).status_code == 204


def test_rules_are_immutable_and_bulk_create_is_atomic(server: ApiServer) -> None:
    client = server.client()
    group = _group(client, "bulk")
    rule = client.get("/v2.0/security-group-rules", params={"security_group_id": group["id"]}).json()
    rule_id = rule["security_group_rules"][0]["id"]
    _refused(server, lambda: client.put(f"/v2.0/security-group-rules/{rule_id}", json={}), 405)
    good = {
        "security_group_id": group["id"],
        "direction": "ingress",
        "protocol": "udp",
        "port_range_min": "53",
        "port_range_max": "53",
    }
    bad = {**good, "port_range_min": "99999"}
    _refused(
        server,
        lambda: client.post("/v2.0/security-group-rules", json={"security_group_rules": [good, bad]}),
        400,
    )
    made = client.post(
        "/v2.0/security-group-rules", json={"security_group_rules": [good, {**good, "protocol": "tcp"}]}
    )
    assert made.status_code == 201 and [r["port_range_min"] for r in made.json()["security_group_rules"]] == [
        53,
        53,
    ]
    dup = {"security_group_rules": [{**good, "port_range_min": 54, "port_range_max": 54}, good]}
    _refused(server, lambda: client.post("/v2.0/security-group-rules", json=dup), 409)


def test_filters_fields_sorting_and_pagination(server: ApiServer) -> None:
    client = server.client("p2", "member")
    made = [_group(client, name) for name in ("pa", "pb", "pc", "pd")]
    both = client.get(
        "/v2.0/security-groups", params=[("name", "pa"), ("name", "pc"), ("fields", "name"), ("fields", "id")]
    )
    assert sorted(g["name"] for g in both.json()["security_groups"]) == ["pa", "pc"]
    assert set(both.json()["security_groups"][0]) == {"name", "id"}
    desc = client.get(
        "/v2.0/security-groups",
        params={"sort_key": "name", "sort_dir": "desc", "name": ["pa", "pb", "pc", "pd"]},
    )
    assert [g["name"] for g in desc.json()["security_groups"]] == ["pd", "pc", "pb", "pa"]
    seen: list[str] = []
    url: str | None = "/v2.0/security-groups?sort_key=name&limit=2&name=pa&name=pb&name=pc&name=pd"
    while url:
        page = client.get(url).json()
        seen += [g["name"] for g in page["security_groups"]]
        nxt = [link["href"] for link in page.get("security_groups_links", []) if link["rel"] == "next"]
        url = nxt[0] if nxt else None
    assert seen == ["pa", "pb", "pc", "pd"] and len(made) == 4
    for params in ({"bogus": "1"}, {"sort_key": "bogus"}, {"limit": "x"}, {"marker": "nope"}):
        _refused(server, lambda p=params: client.get("/v2.0/security-groups", params=p), 400)


def test_address_group_as_remote_is_a_kernel_set(server: ApiServer) -> None:
    import subprocess

    client = server.client()
    ag = client.post(
        "/v2.0/address-groups", json={"address_group": {"name": "office", "addresses": ["192.0.2.0/24"]}}
    )
    ag_id = ag.json()["address_group"]["id"]
    group = _group(client, "office-ssh")
    rule = {
        "security_group_id": group["id"],
        "direction": "ingress",
        "protocol": "tcp",
        "port_range_min": 22,
        "port_range_max": 22,
        "remote_address_group_id": ag_id,
    }
    assert client.post("/v2.0/security-group-rules", json={"security_group_rule": rule}).status_code == 201
    port = client.post(
        "/v2.0/ports",
        json={"port": {"fixed_ips": [{"ip_address": "10.61.0.5"}], "security_groups": [group["id"]]}},
    )
    assert port.status_code == 201
    client.put(
        f"/v2.0/address-groups/{ag_id}/add_addresses", json={"addresses": ["198.51.100.0/24"]}
    ).raise_for_status()
    ruleset = subprocess.run(
        ["ip", "netns", "exec", server.netns, "nft", "list", "ruleset"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "192.0.2.0/24" in ruleset and "198.51.100.0/24" in ruleset
    error = _refused(server, lambda: client.delete(f"/v2.0/address-groups/{ag_id}"), 409)
    assert "in use" in error["message"]
    client.delete(f"/v2.0/ports/{port.json()['port']['id']}").raise_for_status()


def test_host_status_tells_whether_the_kernel_is_in_step(server: ApiServer) -> None:
    import subprocess

    from guestwall.store import open_store
    from guestwall.store.hosts import Report, report
    from guestwall.store.records import this_host

    admin = server.client("admin", "admin")
    me = this_host()
    port = server.client().post("/v2.0/ports", json={"port": {"fixed_ips": [{"ip_address": "10.62.0.5"}]}})
    assert port.status_code == 201
    assert me in {h["host"] for h in admin.get("/guestwall/v1/hosts").json()["hosts"]}

    def status() -> dict[str, Any]:
        host: dict[str, Any] = admin.get(f"/guestwall/v1/hosts/{me}").json()["host"]
        return host

    # ``apply`` makes the kernel equal to the store (incremental paths may leave an unused set behind)
    subprocess.run([*server.cli(), "apply"], check=True, capture_output=True, env=server.env())
    assert status()["kernel"] == "in step" and status()["pending_changes"] == {}
    subprocess.run(["ip", "netns", "exec", server.netns, "nft", "flush", "ruleset"], check=True)
    drifted = status()
    assert drifted["kernel"] == "drifted" and drifted["pending_changes"]
    subprocess.run([*server.cli(), "apply"], check=True, capture_output=True, env=server.env())
    assert status()["kernel"] == "in step" and status()["state"] == "no agent reports"
    assert admin.get("/guestwall/v1/hosts/no-such-host").status_code == 404
    store = open_store(server.db_url)  # an agent on another host reports to the same store
    try:
        report(store, "far-host", Report(applied_revision=1, started=True))  # type: ignore[arg-type]
    finally:
        store.close()
    far = admin.get("/guestwall/v1/hosts/far-host").json()["host"]
    assert (far["state"], far["applied_revision"]) == ("up", 1) and far["lag"] > 0 and "kernel" not in far
    assert server.client("p1", "member").get(f"/guestwall/v1/hosts/{me}").status_code == 403
