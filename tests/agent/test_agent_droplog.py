"""The drop log with real forged frames: a spoofed frame from a logged port is in ``guestwall log --format json``
within 2 s, naming the filter rule that dropped it; a flood of 10,000 forged frames is logged at the rate
limit (plus the burst), the rest counted in "skipped" records, and genuine traffic still passes."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from agentkit import Host, arrives, gets_through, wait_until

from guestwall.lab.traffic import frames
from guestwall.lab.traffic.capture import endpoint, open_sender
from netns_fixtures import needs_netns

pytestmark = needs_netns

RATE, BURST = 100, 25


def config(host_dir: str) -> str:
    return (
        '[ports]\nguest_patterns = ["vnet*"]\n'
        f'[log]\npath = "{host_dir}/packets.jsonl"\ngroup = 29\nrate = {RATE}\nburst = {BURST}\n'
    )


def records(host: Host, *args: str) -> list[dict[str, Any]]:
    out = host.run("log", "--format", "json", *args).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_spoofed_frame_is_logged_with_its_rule_and_a_flood_stays_within_the_limit(
    make_host: Callable[..., Host],
) -> None:
    host = make_host(guests=3, config="")
    host.config_path.write_text(config(str(host.workdir)))
    lab = host.lab
    alice, bob, eve = lab.guests  # eve (the third guest) forges
    host.bind([alice, bob])
    host.bind([eve], params={eve.name: {"IP": eve.ipv4, "GUESTWALL_LOG": "drop"}})
    host.start_agent()
    spoofed = frames.udp4(eve.mac, alice.mac, ip_src="10.77.0.66", ip_dst=alice.ipv4, dport=5353)
    sent = time.monotonic()
    assert not arrives(lab, eve.name, spoofed, alice.name)

    def spoof_logged() -> list[dict[str, Any]]:
        return [r for r in records(host, "--port", eve.portdev) if r.get("src") == "10.77.0.66"]

    found = wait_until(spoof_logged, 2.0, 0.05, "the spoofed frame in the log")
    took = time.monotonic() - sent
    first = found[0]
    assert first["port"] == eve.portdev and first["direction"] == "out" and first["verdict"] == "drop"
    assert first["filter"] == "no-ip-spoofing" and first["rule"] >= 1
    assert (first["protocol"], first["dst"], first["dport"]) == ("udp", alice.ipv4, 5353)
    assert first["src_mac"] == eve.mac
    assert records(host, "--port", alice.portdev) == []  # alice's binding does not log
    text = host.run("log", "--port", eve.portdev, "--since", "1h").stdout
    assert (
        f"{eve.portdev} out DROP filter no-ip-spoofing rule 3: udp 10.77.0.66:40000 -> {alice.ipv4}:5353"
        in text
    )
    assert host.run("log", "--since", "2999-01-01T00:00:00Z").stdout == ""
    print(f"spoofed frame logged after {took:.3f} s")

    # a flood: 10,000 forged frames as fast as one socket sends them
    before = len(records(host))
    sender = open_sender(endpoint(lab, eve.name))
    wire = bytes(frames.udp4(eve.mac, alice.mac, ip_src="10.77.0.67", ip_dst=alice.ipv4))
    start = time.monotonic()
    for i in range(10_000):
        sender.send(wire)
        if i % 200 == 199:  # a veth's receive backlog holds 1000 frames: do not lose them before the bridge
            time.sleep(0.001)
    duration = time.monotonic() - start
    sender.close()
    genuine = frames.udp4(bob.mac, alice.mac, ip_src=bob.ipv4, ip_dst=alice.ipv4)
    assert gets_through(lab, bob.name, genuine, alice.name)

    def counted() -> tuple[int, int] | None:
        rows = records(host)[before:]
        logged = sum(1 for r in rows if r.get("src") == "10.77.0.67")
        skipped = sum(r["skipped"] for r in rows if "skipped" in r)
        return (logged, skipped) if logged + skipped >= 10_000 else None

    logged, skipped = wait_until(counted, 5.0, 0.2, "10,000 frames logged or counted as skipped")
    print(f"flood of 10,000 in {duration:.2f} s: {logged} logged, {skipped} skipped")
    assert logged + skipped == 10_000
    assert logged <= BURST + RATE * (duration + 0.5)


def test_counters_per_rule_and_port_in_status_and_metrics(make_host: Callable[..., Host]) -> None:
    """With ``[counters] rules = true`` every filter rule counts: forged frames show up on the rule that
    dropped them, in ``status --counters`` and on the agent's Prometheus endpoint, and on the port."""
    host = make_host(guests=2, config="")
    host.config_path.write_text(
        "[counters]\nrules = true\n" + config(str(host.workdir)).replace("[ports]", "[ports]", 1)
    )
    alice, eve = host.lab.guests
    host.bind([alice, eve])
    agent = host.start_agent("--metrics", "127.0.0.1:0")
    address = agent.wait_log(r"metrics on (http://\S+)").group(1)
    spoofed = frames.udp4(eve.mac, alice.mac, ip_src="10.77.0.66", ip_dst=alice.ipv4)
    sender = open_sender(endpoint(host.lab, eve.name))
    for _ in range(50):
        sender.send(bytes(spoofed))
    sender.close()

    data = json.loads(host.run("status", "--counters", "--format", "json").stdout)
    spoofing = [r for r in data["rules"] if r["origin"] == "no-ip-spoofing#3"]
    assert spoofing and sum(r["packets"] for r in spoofing) >= 50
    assert all(r["packets"] == 0 for r in data["rules"] if r["origin"] == "no-mac-spoofing#2")
    port = {p["port"]: p for p in data["ports"]}[eve.portdev]
    assert port["out_packets"] >= 50
    assert data["sizes"]["rules"] > 0 and data["sizes"]["elements"] > 0
    text = host.run("status", "--counters").stdout
    assert "no-ip-spoofing#3" in text and eve.portdev in text

    with urllib.request.urlopen(address, timeout=10) as response:
        metrics = response.read().decode()
    line = next(
        line
        for line in metrics.splitlines()
        if line.startswith("guestwall_rule_packets_total{")
        and 'rule="no-ip-spoofing#3"' in line
        and int(line.rsplit(" ", 1)[1]) > 0
    )
    assert int(line.rsplit(" ", 1)[1]) >= 50
    assert f'guestwall_port_packets_total{{port="{eve.portdev}",direction="out"}}' in metrics
    assert "guestwall_rules " in metrics and "guestwall_drift_repairs_total 0" in metrics


def test_security_group_rule_and_provider_block_logging(make_host: Callable[..., Host]) -> None:
    """A security-group rule marked --log records the connections it accepts, its unmarked neighbour does
    not; a provider block marked --log records what it drops; both name the rule (its comment)."""
    from ipaddress import ip_address, ip_network

    from guestwall.cloud.conntrack import ConntrackTool
    from guestwall.cloud.facade import Cloud
    from guestwall.cloud.rules import RuleSpec
    from guestwall.dataplane.backend import open_backend
    from guestwall.lab.traffic import tcp_connect, tcp_server
    from guestwall.model.cloud import Port, RuleDirection
    from guestwall.store import open_store

    host = make_host(guests=3, config="")
    host.config_path.write_text(config(str(host.workdir)).replace('guest_patterns = ["vnet*"]', ""))
    lab = host.lab
    alice, bob, carol = lab.guests
    store = open_store(host.url)
    try:
        cloud = Cloud(store, open_backend(lab.host_netns), ConntrackTool(lab.host_netns))
        cloud.create_group("servers")
        cloud.create_group("clients")  # a new group lets everything out (as Neutron's)
        ssh = cloud.create_rule(
            "servers", RuleSpec(RuleDirection.INGRESS, protocol="tcp", ports=(22, 22), log=True)
        ).value
        cloud.create_rule("servers", RuleSpec(RuleDirection.INGRESS, protocol="tcp", ports=(25, 25)))
        for guest, groups in ((alice, ("clients",)), (carol, ("servers",))):
            port = Port(
                "",
                guest.portdev,
                guest.mac,
                "default",
                name=guest.name,
                security_groups=groups,
                fixed_ips=(ip_address(guest.ipv4),),
            )
            cloud.create_port(port)
        block = cloud.block(ip_network(f"{bob.ipv4}/32"), log=True).value
    finally:
        store.close()
    host.start_agent()
    with tcp_server(lab, carol.name, 22), tcp_server(lab, carol.name, 25):
        assert tcp_connect(lab, alice.name, carol.name, 22)
        assert tcp_connect(lab, alice.name, carol.name, 25)
        assert not tcp_connect(lab, bob.name, carol.name, 22, timeout=0.3)

    def logged() -> list[dict[str, Any]] | None:
        rows = records(host, "--port", carol.portdev)
        accepted = [r for r in rows if r.get("verdict") == "accept"]
        dropped = [r for r in rows if r.get("verdict") == "drop"]
        return rows if accepted and dropped else None

    rows = wait_until(logged, 3.0, 0.1, "the accepted and the dropped connection in the log")
    accepted = [r for r in rows if r["verdict"] == "accept"]
    assert {(r["src"], r["dport"], r["direction"]) for r in accepted} == {(alice.ipv4, 22, "in")}
    assert len(accepted) == 1  # the first packet of the connection only
    assert accepted[0]["comment"] == f"guestwall:log security group rule {ssh.id}"
    dropped = [r for r in rows if r["verdict"] == "drop"]
    assert {r["src"] for r in dropped} == {bob.ipv4}
    assert dropped[0]["filter"] == "gw-provider" and "gw-provider-any-log" in dropped[0]["comment"]
    assert block.log
