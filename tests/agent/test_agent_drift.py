"""Drift repair: our tables flushed, deleted or edited by someone else are restored within a second, forged
frames are blocked again, and other tables are never touched."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from agentkit import Host, wait_until

from guestwall.compile import names
from guestwall.config import load_config
from guestwall.dataplane.backend import open_backend
from guestwall.engine import Engine
from guestwall.lab.traffic import frames, probe
from guestwall.nft.commands import ListSet, Table
from guestwall.store import open_store
from netns_fixtures import needs_netns

pytestmark = needs_netns

CONFIG = '[ports]\nguest_patterns = ["vnet*"]\n'
FOREIGN = "table inet other {\n chain c {\n  type filter hook forward priority 10; policy accept;\n  counter\n }\n}\n"


def in_sync(host: Host) -> bool:
    """The kernel holds exactly what the store and the host configuration say (by rule digests)."""
    store = open_store(host.url)
    try:
        with store.read() as reader:
            return not Engine(open_backend(host.netns), load_config(str(host.config_path))).plan(reader)
    finally:
        store.close()


def forged(host: Host) -> list[Any]:
    eve, alice = host.lab["eve"], host.lab["alice"]
    return [
        frames.udp4(eve.mac, alice.mac, ip_src=alice.ipv4, ip_dst=alice.ipv4),
        frames.arp(eve.mac, op="is-at", psrc=alice.ipv4, pdst=alice.ipv4, dst=alice.mac),
        frames.eth("52:54:00:66:66:66", alice.mac, ethertype=0x88B5),
    ]


def test_flush_ruleset_is_repaired(make_host: Callable[..., Host]) -> None:
    host = make_host(guests=5, config=CONFIG)
    host.bind(list(host.lab.guests))
    host.start_agent()
    backend = open_backend(host.netns)
    assert probe(host.lab, "eve", forged(host), ["alice"])["alice"] == []
    latencies = []
    for _ in range(3):
        t0 = time.monotonic()
        host.nft("flush", "ruleset")
        wait_until(
            lambda: backend.list_json(ListSet(Table("bridge", names.TABLE), names.L2_OUT_MAP, map=True)),
            10.0,
            0.002,
            "repair",
        )
        latencies.append(time.monotonic() - t0)
        time.sleep(max(0.0, 1.0 - (time.monotonic() - t0)))
        assert probe(host.lab, "eve", forged(host), ["alice"])["alice"] == []
        assert in_sync(host)
    print(f"nft flush ruleset repaired after {', '.join(f'{s * 1000:.0f}' for s in latencies)} ms")


def test_tables_deleted_or_edited_are_repaired_and_others_left_alone(make_host: Callable[..., Host]) -> None:
    host = make_host(guests=5, config=CONFIG)
    host.bind(list(host.lab.guests))
    host.nft("-f", "-", input=FOREIGN)
    agent = host.start_agent()

    def repaired(tamper: Callable[[], object]) -> None:
        mark = len(agent.log())
        tamper()
        agent.wait_log(r"converged \(our tables changed: repair\)", timeout=1.0, after=mark)
        wait_until(lambda: in_sync(host), 1.0, what="kernel equal to the store")
        assert probe(host.lab, "eve", forged(host), ["alice"])["alice"] == []

    repaired(lambda: host.nft("delete", "table", "bridge", names.TABLE))
    repaired(lambda: host.nft("delete", "table", "inet", names.TABLE))
    repaired(lambda: host.nft("insert", "rule", "bridge", names.TABLE, "pre", "accept"))
    where = f"bridge {names.TABLE} {names.L2_OUT_MAP}"
    open_eve = f'delete element {where} {{ "vnet4" }}\nadd element {where} {{ "vnet4" : accept }}\n'
    repaired(lambda: host.nft("-f", "-", input=open_eve))  # eve's port let through unfiltered

    def delete_a_rule() -> None:
        listing = json.loads(host.nft("-j", "-a", "list", "table", "bridge", names.TABLE).stdout)["nftables"]
        rule = next(o["rule"] for o in listing if "rule" in o and "spoofing" in o["rule"].get("comment", ""))
        host.nft("delete", "rule", "bridge", names.TABLE, rule["chain"], "handle", str(rule["handle"]))

    repaired(delete_a_rule)

    # an edit that keeps the rule's comment (its digest) is caught by the chain's fingerprint
    listing = json.loads(host.nft("-j", "-a", "list", "table", "bridge", names.TABLE).stdout)["nftables"]
    rule = next(
        o["rule"] for o in listing if "rule" in o and "no-mac-spoofing#2" in o["rule"].get("comment", "")
    )
    mark = len(agent.log())
    host.nft("replace", "rule", "bridge", names.TABLE, rule["chain"], "handle", str(rule["handle"]),
             "accept", "comment", json.dumps(rule["comment"]))  # fmt: skip
    agent.wait_log(r"refilled 1 chain\(s\) edited in place", timeout=1.0, after=mark)
    chain = host.nft("list", "chain", "bridge", names.TABLE, rule["chain"]).stdout
    assert "drop comment" in chain and 'accept comment "' + rule["comment"] not in chain
    assert probe(host.lab, "eve", forged(host), ["alice"])["alice"] == []

    assert "table inet other" in host.nft("list", "tables").stdout
    assert "counter" in host.nft("list", "table", "inet", "other").stdout
