"""The port, secgroup and provider commands, enforcing in a lab's namespace: JSON for scripts, tables for
people, and one clear error line (with nothing stored) for invalid input."""

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
from guestwall.store import open_store
from netns_fixtures import needs_netns

pytestmark = needs_netns

Run = Callable[..., Result]


@pytest.fixture
def gw(lab: Lab, tmp_path: Path) -> Iterator[Run]:
    url = f"sqlite:///{tmp_path}/gw.db"
    runner = CliRunner()

    def run(*args: str, ok: bool = True) -> Result:
        result = runner.invoke(cli, ["--db", url, "--netns", lab.host_netns, *args], catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output + result.stderr
        return result

    run.url = url  # type: ignore[attr-defined]
    yield run


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)


def generation(url: str) -> int:
    store = open_store(url)
    try:
        return store.generation()
    finally:
        store.close()


def test_secgroup_and_rules(gw: Run) -> None:
    group = as_json(gw("secgroup", "create", "web", "--description", "front end", "--format", "json"))
    assert group["name"] == "web" and len(group["rules"]) == 4 and group["filter"].startswith("gw-sg-")
    rule = as_json(
        gw(
            "secgroup",
            "rule-create",
            "web",
            "--protocol",
            "tcp",
            "--port-range",
            "8000:8080",
            "--remote-ip",
            "10.0.0.0/8",
            "--format",
            "json",
        )
    )
    assert (rule["port_range_min"], rule["port_range_max"], rule["remote_ip_prefix"]) == (
        8000,
        8080,
        "10.0.0.0/8",
    )
    v6 = as_json(
        gw(
            "secgroup",
            "rule-create",
            "web",
            "--protocol",
            "icmp",
            "--icmp-type",
            "128",
            "--remote-ip",
            "2001:db8::/32",
            "--format",
            "json",
        )
    )
    assert (v6["ethertype"], v6["protocol"], v6["icmp_type"]) == ("IPv6", "icmpv6", 128)
    listed = as_json(gw("secgroup", "list", "--format", "json"))
    # the project's default group came with its first group, as in Neutron
    assert [g["name"] for g in listed] == ["default", "web"] and len(listed[1]["rules"]) == 6
    table = gw("secgroup", "show", "web").stdout
    assert "8000:8080" in table and "10.0.0.0/8" in table and rule["id"] in table
    gw("secgroup", "rule-delete", rule["id"][:8])
    assert len(as_json(gw("secgroup", "show", "web", "--format", "json"))["rules"]) == 5
    gw("secgroup", "delete", "web")
    assert [g["name"] for g in as_json(gw("secgroup", "list", "--format", "json"))] == ["default"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("secgroup", "rule-create", "web", "--remote-ip", "10.0.0.1/24"),
            "error: invalid remote IP prefix '10.0.0.1/24': host bits are set (did you mean 10.0.0.0/24?)",
        ),
        (
            ("secgroup", "rule-create", "web", "--protocol", "tcp", "--port-range", "80:70"),
            "error: invalid port range '80:70': the first port is above the last",
        ),
        (
            ("secgroup", "rule-create", "web", "--protocol", "tcp", "--port-range", "0"),
            "error: invalid port range '0': ports are 1 to 65535",
        ),
        (
            ("secgroup", "rule-create", "web", "--protocol", "icmp", "--icmp-code", "4"),
            "error: ICMP code 4 is given but no ICMP type: a code needs its type",
        ),
        (
            ("secgroup", "rule-create", "web", "--protocol", "icmp", "--icmp-type", "300"),
            "error: invalid ICMP type '300': expected 0 to 255 or any",
        ),
        (
            ("secgroup", "rule-create", "web", "--remote-group", "nosuch"),
            "error: unknown security group 'nosuch'",
        ),
        (("secgroup", "rule-create", "nosuch"), "error: unknown security group 'nosuch'"),
        (
            ("secgroup", "rule-create", "web", "--protocol", "47"),
            "error: unsupported protocol 47: nwfilter's layer-3 rules can express",
        ),
        (
            ("secgroup", "rule-create", "web", "--direction", "inbound"),
            "error: invalid direction 'inbound': expected ingress or egress",
        ),
        (
            ("port", "create", "vnet0", "--mac", "52:54:00:00:00:01", "--security-group", "nosuch"),
            "error: unknown security group 'nosuch'",
        ),
        (
            ("port", "create", "vnet0", "--mac", "52:54:00:00:00:01", "--fixed-ip", "10.0.0.300"),
            "error: invalid fixed IP '10.0.0.300': expected an IPv4 or IPv6 address",
        ),
        (("port", "create", "vnet0", "--mac", "zz"), "error: invalid MAC address 'zz'"),
        (
            ("port", "create", "vnet0", "--mac", "52:54:00:00:00:01", "--allowed-address-pair", "10.1.1.1/8"),
            "error: invalid allowed address pair '10.1.1.1/8': host bits are set (did you mean 10.0.0.0/8?)",
        ),
        (("provider", "block", "10.0.0.0/33"), "error: invalid CIDR '10.0.0.0/33'"),
        (
            ("provider", "block", "10.0.0.0/8", "--protocol", "gre"),
            "error: invalid protocol 'gre' for a provider block: expected any, tcp, udp or icmp",
        ),
        (
            ("provider", "block", "10.0.0.0/8", "--port-range", "22"),
            "error: a port range needs protocol tcp or udp (the block's protocol is any)",
        ),
        (("provider", "unblock", "10.0.0.0/8"), "error: 10.0.0.0/8 is not blocked"),
        (("port", "update", "nosuch", "--no-port-security"), "error: unknown port 'nosuch'"),
    ],
)
def test_invalid_input_is_one_line_and_stores_nothing(gw: Run, args: tuple[str, ...], message: str) -> None:
    gw("secgroup", "create", "web")
    before = generation(gw.url)  # type: ignore[attr-defined]
    result = gw(*args, ok=False)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), result.stderr
    assert generation(gw.url) == before  # type: ignore[attr-defined]


def test_ports_end_to_end(gw: Run, lab: Lab) -> None:
    gw("secgroup", "create", "web")
    gw("secgroup", "rule-create", "web", "--protocol", "tcp", "--port-range", "80")
    gw("secgroup", "create", "clients")
    alice, bob = lab["alice"], lab["bob"]
    created = as_json(
        gw(
            "port",
            "create",
            bob.portdev,
            "--mac",
            bob.mac,
            "--fixed-ip",
            bob.ipv4,
            "--fixed-ip",
            bob.ipv6,
            "--security-group",
            "web",
            "--name",
            "bob",
            "--format",
            "json",
        )
    )
    assert created["security_groups"][0]["name"] == "web" and created["filter"].startswith("gw-port-")
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
    with tcp_server(lab, "bob", 80):
        assert tcp_connect(lab, "alice", "bob", 80)
    with tcp_server(lab, "bob", 81):
        assert not tcp_connect(lab, "alice", "bob", 81)
        gw(
            "secgroup",
            "rule-create",
            "web",
            "--protocol",
            "tcp",
            "--port-range",
            "81",
            "--remote-group",
            "clients",
        )
        assert tcp_connect(lab, "alice", "bob", 81)
        updated = as_json(
            gw("port", "update", alice.portdev, "--remove-security-group", "clients", "--format", "json")
        )
        assert updated["security_groups"] == []
        assert not tcp_connect(lab, "alice", "bob", 81)
        gw("port", "update", alice.portdev, "--add-security-group", "clients")
        assert tcp_connect(lab, "alice", "bob", 81)
    ports = as_json(gw("port", "list", "--format", "json"))
    assert [p["device"] for p in ports] == [alice.portdev, bob.portdev]
    table = gw("port", "show", "bob").stdout
    assert bob.ipv6 in table and "web" in table
    # the engine's own commands see cloud ports as bindings
    dumped = gw("nwfilter-binding-dumpxml", bob.portdev).stdout
    assert f"<filterref filter='{created['filter']}'>" in dumped
    status = as_json(gw("status", "--format", "json"))["ports"]
    assert {row["portdev"]: row["enforcement"] for row in status} == {
        alice.portdev: "shared",
        bob.portdev: "shared",
    }
    gw("port", "delete", alice.portdev, "bob")
    assert as_json(gw("port", "list", "--format", "json")) == []
    assert "vnet" not in gw("nwfilter-binding-list").stdout


def test_provider_commands(gw: Run, lab: Lab) -> None:
    block = as_json(gw("provider", "block", "203.0.113.0/24", "--description", "alice", "--format", "json"))
    assert (block["cidr"], block["protocol"], block["description"]) == ("203.0.113.0/24", None, "alice")
    gw("provider", "block", "198.51.100.0/24", "--protocol", "tcp", "--port-range", "25")
    listed = as_json(gw("provider", "list", "--format", "json"))
    assert [(b["cidr"], b["protocol"], b["port_range_min"]) for b in listed] == [
        ("203.0.113.0/24", None, None),
        ("198.51.100.0/24", "tcp", 25),
    ]
    assert "203.0.113.0/24" in gw("provider", "list").stdout
    gw("provider", "unblock", "198.51.100.0/24", "--protocol", "tcp", "--port-range", "25")
    gw("provider", "unblock", block["id"][:8])
    assert as_json(gw("provider", "list", "--format", "json")) == []
