"""Real clients against a real server: openstacksdk (auth_type admin_token, as docs/api.md gives it) and the
``openstack`` command (python-openstackclient), unchanged; what they create is enforced in the kernel."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from apiserver import ApiServer

from netns_fixtures import needs_netns

pytestmark = needs_netns
openstack = pytest.importorskip("openstack")


def connect(server: ApiServer, project: str = "p1", role: str = "member") -> openstack.connection.Connection:
    return openstack.connect(
        auth_type="admin_token",
        auth={"endpoint": server.url, "token": server.token(project, role)},
        region_name="RegionOne",
    )


def kernel_sets(server: ApiServer) -> str:
    return subprocess.run(
        ["ip", "netns", "exec", server.netns, "nft", "list", "ruleset"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_sdk_creates_lists_and_deletes_groups_rules_and_ports(server: ApiServer) -> None:
    conn = connect(server)
    group = conn.network.create_security_group(name="sdk-web", description="from the SDK")
    assert group.project_id == "p1" and group.revision_number == 0
    # Neutron's new group: the two egress rules only
    assert sorted((r["direction"], r["ethertype"]) for r in group.security_group_rules) == [
        ("egress", "IPv4"),
        ("egress", "IPv6"),
    ]
    rule = conn.network.create_security_group_rule(
        security_group_id=group.id,
        direction="ingress",
        ethertype="IPv4",
        protocol="tcp",
        port_range_min=22,
        port_range_max=22,
        remote_ip_prefix="10.9.0.0/16",
    )
    assert (rule.port_range_min, rule.port_range_max, rule.remote_ip_prefix) == (22, 22, "10.9.0.0/16")
    assert conn.network.get_security_group(group.id).revision_number == 1
    names = {g.name for g in conn.network.security_groups()}
    assert {"sdk-web", "default"} <= names  # the project's default group exists, as in Neutron
    port = conn.network.create_port(
        network_id="net-1", fixed_ips=[{"ip_address": "10.9.0.5"}], security_group_ids=[group.id]
    )
    assert port.security_group_ids == [group.id] and port.status == "ACTIVE"
    assert [p.id for p in conn.network.ports()] == [port.id]
    ruleset = kernel_sets(server)
    assert "10.9.0.5" in ruleset and "tcp dport 22" in ruleset
    conn.network.delete_port(port)
    conn.network.delete_security_group_rule(rule)
    conn.network.delete_security_group(group)
    assert "10.9.0.5" not in kernel_sets(server)
    assert "sdk-web" not in {g.name for g in conn.network.security_groups()}
    with pytest.raises(openstack.exceptions.NotFoundException, match="could not be found"):
        conn.network.get_security_group(group.id)


def test_sdk_port_without_groups_joins_the_default_group(server: ApiServer) -> None:
    conn = connect(server, "p2")
    port = conn.network.create_port(network_id="net-1", fixed_ips=[{"ip_address": "10.8.0.5"}])
    default = next(g for g in conn.network.security_groups() if g.name == "default")
    assert port.security_group_ids == [default.id]
    conn.network.delete_port(port)


def test_sdk_if_match_and_errors(server: ApiServer) -> None:
    conn = connect(server)
    group = conn.network.create_security_group(name="revs")
    stale = group.revision_number
    # by id: the SDK sends If-Match only when it changed on the object it is given
    conn.network.update_security_group(group.id, description="one", if_revision=stale)
    with pytest.raises(openstack.exceptions.HttpException) as failed:
        conn.network.update_security_group(group.id, description="two", if_revision=stale)
    assert failed.value.status_code == 412
    assert conn.network.get_security_group(group.id).description == "one"
    conn.network.delete_security_group(group)


@pytest.mark.skipif(
    shutil.which("openstack", path=str(Path(sys.executable).parent)) is None, reason="no openstack CLI"
)
def test_openstack_cli_security_group_create_list_and_rule_create(server: ApiServer, tmp_path: Path) -> None:
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text(
        "clouds:\n  guestwall:\n    auth_type: admin_token\n    auth:\n"
        f"      endpoint: {server.url}\n      token: {server.token('p1', 'member')}\n    region_name: RegionOne\n"
    )
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(clouds), "OS_CLOUD": "guestwall"}
    cli = str(Path(sys.executable).parent / "openstack")

    def run(*argv: str) -> object:
        done = subprocess.run(
            [cli, *argv, "-f", "json"], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    created = run("security group create", "cli-web", "--description", "from the CLI")
    assert isinstance(created, dict) and created["name"] == "cli-web"
    rule = run("security group rule create", "cli-web", "--protocol", "tcp", "--dst-port", "8080:8081")
    assert isinstance(rule, dict) and (rule["port_range_min"], rule["port_range_max"]) == (8080, 8081)
    listed = run("security group list")
    assert isinstance(listed, list) and {"cli-web", "default"} <= {g["Name"] for g in listed}


def test_cli_and_api_share_the_store_and_the_use_cases(server: ApiServer) -> None:
    """A group the CLI makes is the API's, and a rule the API adds shows in the CLI (one engine)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    gw = [sys.executable, "-m", "guestwall", "--db", server.db_url, "--netns", server.netns]

    def run(*argv: str) -> object:
        done = subprocess.run([*gw, *argv], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if "--format" in argv else done.stdout

    made = run("secgroup", "create", "from-cli", "--project", "p1", "--format", "json")
    assert isinstance(made, dict)
    conn = connect(server)
    group = conn.network.get_security_group(made["id"])
    assert group.name == "from-cli" and group.project_id == "p1"
    conn.network.create_security_group_rule(
        security_group_id=group.id, direction="ingress", protocol="udp", port_range_min=53, port_range_max=53
    )
    shown = run("secgroup", "show", made["id"], "--format", "json")
    assert isinstance(shown, dict) and any(r["port_range_min"] == 53 for r in shown["rules"])
    run("secgroup", "delete", made["id"])
