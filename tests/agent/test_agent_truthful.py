"""The agent keeps what the store claims true (issue 10): a cloud port's binding gone missing from the store
is restored (logged), and ``status`` reports the running agent with its pid and last repair."""

from __future__ import annotations

import json
from collections.abc import Callable

from agentkit import Host, wait_until

from guestwall.lab.traffic import tcp_connect, tcp_server
from guestwall.store import open_store
from netns_fixtures import needs_netns

pytestmark = needs_netns


def test_agent_restores_a_missing_cloud_binding_and_reports_itself(make_host: Callable[..., Host]) -> None:
    host = make_host(guests=2)
    lab = host.lab
    alice, bob = lab["alice"], lab["bob"]
    host.run("secgroup", "create", "web")
    host.run("secgroup", "create", "clients")  # all egress; alice is no member of web
    host.run("secgroup", "rule-create", "web", "--protocol", "tcp", "--dst-port", "80")
    host.run(
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
    host.run(
        "port", "create", bob.portdev, "--mac", bob.mac, "--fixed-ip", bob.ipv4, "--security-group", "web"
    )
    agent = host.start_agent()
    store = open_store(host.url)
    try:
        with store.write() as writer:  # as a hand edit or an older version could have done
            writer.delete_binding(bob.portdev)
    finally:
        store.close()
    agent.wait_log(rf"restored binding of cloud port {bob.portdev}")
    with tcp_server(lab, "bob", 81):
        assert not tcp_connect(lab, "alice", "bob", 81)
    with tcp_server(lab, "bob", 80):
        assert tcp_connect(lab, "alice", "bob", 80)

    def reported() -> dict[str, object] | None:
        report = json.loads(host.run("status", "--format", "json", check=False).stdout)
        return report if report["in_sync"] and report["agent"]["running"] else None

    report = wait_until(reported, timeout=10, what="status in sync with a running agent")
    assert report["agent"]["pid"] == agent.proc.pid  # type: ignore[index]
    assert report["problems"] == []
    # a repair is reported with its time and what it changed
    from netns_fixtures import run_in_host

    run_in_host(lab, "nft", "flush", "ruleset")

    def repaired() -> dict[str, object] | None:
        report = json.loads(host.run("status", "--format", "json", check=False).stdout)
        agent_info = report["agent"]
        return report if report["in_sync"] and agent_info["last_repair"] else None

    report = wait_until(repaired, timeout=10, what="a repair reported")
    assert "repair" in str(report["agent"]["last_repair"])  # type: ignore[index]
