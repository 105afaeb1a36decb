"""OpenStack habits (issue 10): --ingress/--egress, secgroup rule-list and set, port set/unset, errors that
name what blocks a change. Through the real CLI, enforcing in a lab; traffic checks with real frames."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from guestwall.cli.app import cli
from guestwall.lab import Lab
from guestwall.lab.traffic import tcp_connect, tcp_server
from netns_fixtures import needs_netns

pytestmark = needs_netns

Run = Callable[..., Result]


@pytest.fixture
def gw(lab: Lab, tmp_path: Path) -> Iterator[Run]:
    url = f"sqlite:///{tmp_path}/gw.db"

    def run(*args: str, ok: bool = True) -> Result:
        result = CliRunner().invoke(
            cli, ["--db", url, "--netns", lab.host_netns, *args], catch_exceptions=False
        )
        assert (result.exit_code == 0) == ok, result.output + result.stderr
        return result

    yield run


def js(result: Result) -> Any:
    return json.loads(result.stdout)


def test_ingress_egress_flags_and_rule_list(gw: Run) -> None:
    gw("secgroup", "create", "web")
    inbound = js(
        gw(
            "secgroup",
            "rule-create",
            "web",
            "--ingress",
            "--protocol",
            "tcp",
            "--dst-port",
            "80",
            "--format",
            "json",
        )
    )
    outbound = js(
        gw(
            "secgroup",
            "rule-create",
            "web",
            "--egress",
            "--protocol",
            "udp",
            "--dst-port",
            "53",
            "--format",
            "json",
        )
    )
    assert inbound["direction"] == "ingress" and outbound["direction"] == "egress"
    assert (
        "conflicting directions"
        in gw("secgroup", "rule-create", "web", "--ingress", "--egress", ok=False).output
    )
    rules = js(gw("secgroup", "rule-list", "web", "--format", "json"))
    assert {inbound["id"], outbound["id"]} <= {r["id"] for r in rules} and len(rules) == 6
    ids = gw("secgroup", "rule-list", "web", "--format", "value", "-c", "id").stdout.split()
    assert inbound["id"] in ids and len(ids) == 6


def test_secgroup_set_renames(gw: Run) -> None:
    gw("secgroup", "create", "web")
    renamed = js(gw("secgroup", "set", "web", "--name", "www", "--description", "front", "--format", "json"))
    assert (renamed["name"], renamed["description"]) == ("www", "front")
    assert js(gw("secgroup", "show", "www", "--format", "json"))["id"] == renamed["id"]


def test_port_set_and_unset(gw: Run, lab: Lab) -> None:
    gw("secgroup", "create", "web")
    gw("secgroup", "rule-create", "web", "--ingress", "--protocol", "tcp", "--dst-port", "80")
    gw("secgroup", "create", "clients")  # a new group allows all egress
    alice, bob = lab["alice"], lab["bob"]
    gw(
        "port",
        "create",
        alice.portdev,
        "--mac",
        alice.mac,
        "--fixed-ip",
        alice.ipv4,
        "--security-group",
        "clients",
    )
    gw("port", "create", bob.portdev, "--mac", bob.mac, "--fixed-ip", bob.ipv4)
    with tcp_server(lab, "bob", 80):
        assert not tcp_connect(lab, "alice", "bob", 80)
        port = js(gw("port", "set", bob.portdev, "--security-group", "web", "--format", "json"))
        assert [g["name"] for g in port["security_groups"]] == ["web"]
        assert tcp_connect(lab, "alice", "bob", 80)
        port = js(gw("port", "unset", bob.portdev, "--security-group", "web", "--format", "json"))
        assert port["security_groups"] == []
        assert not tcp_connect(lab, "alice", "bob", 80)


def test_port_security_off_names_what_is_in_the_way(gw: Run, lab: Lab) -> None:
    gw("secgroup", "create", "web")
    bob = lab["bob"]
    gw(
        "port",
        "create",
        bob.portdev,
        "--mac",
        bob.mac,
        "--fixed-ip",
        bob.ipv4,
        "--security-group",
        "web",
        "--allowed-address-pair",
        "10.77.0.128/25",
    )
    refused = gw("port", "update", bob.portdev, "--no-port-security", ok=False)
    assert "cannot be without port security while it has security group 'web'" in refused.stderr
    assert "allowed address pair 10.77.0.128/25" in refused.stderr
    assert "has port security off" not in refused.stderr


def test_tables_never_break_inside_an_address(gw: Run, lab: Lab) -> None:
    bob = lab["bob"]
    addresses = [f"fd77::{i:x}:1234:5678:9abc" for i in range(1, 11)]
    args = [a for address in addresses for a in ("--fixed-ip", address)]
    gw("port", "create", bob.portdev, "--mac", bob.mac, "--fixed-ip", bob.ipv4, *args, "--no-port-security")
    listed = gw("port", "list").stdout
    for text in (*addresses, bob.mac, bob.ipv4):
        assert any(text in line for line in listed.splitlines()), text
    port_id = json.loads(gw("port", "show", bob.portdev, "--format", "json").stdout)["id"]
    assert any(port_id in line for line in listed.splitlines())
