"""``simulate`` on cloud ports (issue 10): address sets are evaluated (group members, provider blocks), and
the explanation names the security group rule (with its id) or the provider block that decided; the
verdicts agree with real frames in the lab."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

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

    def run(*args: str, code: int = 0) -> Result:
        result = CliRunner().invoke(
            cli, ["--db", url, "--netns", lab.host_netns, *args], catch_exceptions=False
        )
        assert result.exit_code == code, result.output + result.stderr
        return result

    yield run


def test_simulate_names_the_group_rule_and_the_provider_block(gw: Run, lab: Lab) -> None:
    alice, bob, carol = lab["alice"], lab["bob"], lab["carol"]
    gw("secgroup", "create", "clients")
    gw("secgroup", "create", "web")
    gw("secgroup", "create", "others")
    rule = json.loads(
        gw(
            "secgroup",
            "rule-create",
            "web",
            "--ingress",
            "--protocol",
            "tcp",
            "--dst-port",
            "81",
            "--remote-group",
            "clients",
            "--format",
            "json",
        ).stdout
    )
    for guest, group in ((alice, "clients"), (carol, "others"), (bob, "web")):
        gw(
            "port",
            "create",
            guest.portdev,
            "--mac",
            guest.mac,
            "--fixed-ip",
            guest.ipv4,
            "--security-group",
            group,
        )

    def simulate(src: str, code: int) -> str:
        packet = f"smac={lab[src].mac} src={lab[src].ipv4} dst={bob.ipv4} tcp dport=81"
        return gw("simulate", bob.portdev, "--direction", "in", "--packet", packet, code=code).stdout

    member = simulate("alice", 0)
    assert "cannot be simulated" not in member
    assert "decided by security group 'web'" in member and f"rule {rule['id']}" in member
    outsider = simulate("carol", 2)
    assert "decided by no security group rule allows it" in outsider
    with tcp_server(lab, "bob", 81):
        assert tcp_connect(lab, "alice", "bob", 81) and not tcp_connect(lab, "carol", "bob", 81)

    block = json.loads(gw("provider", "block", f"{alice.ipv4}/32", "--format", "json").stdout)
    blocked = simulate("alice", 2)
    assert f"decided by provider block {alice.ipv4}/32 ({block['id']})" in blocked
    with tcp_server(lab, "bob", 81):
        assert not tcp_connect(lab, "alice", "bob", 81)


def test_simulate_help_documents_exit_codes_and_keys(gw: Run) -> None:
    text = gw("simulate", "--help").stdout
    assert "Exit status: 0 accepted, 2 dropped, 1 an error" in text
    for key in ("smac", "dport", "icmptype", "state"):
        assert key in text
