"""Redefining a bound filter with the agent running: a definition that a binding cannot instantiate is
refused with the binding named, and neither the store nor the kernel changes; a valid one is applied by the
command itself, and the agent then finds nothing to do."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agentkit import Host, arrives, gets_through

from guestwall.lab.traffic import frames
from netns_fixtures import needs_netns

pytestmark = needs_netns

CONFIG = '[ports]\nguest_patterns = ["vnet*"]\n'
EXTRA = """<filter name='extra' chain='root'>
  <uuid>5e1ec7ed-0000-4000-8000-000000000001</uuid>
  <rule action='drop' direction='out' priority='500'><tcp dstportstart='{port}'/></rule>
</filter>
"""
GUARDED = """<filter name='guarded' chain='root'>
  <filterref filter='clean-traffic'/>
  <filterref filter='extra'/>
</filter>
"""


def tcp(host: Host, sender: str, to: str, port: int) -> Any:
    s, t = host.lab[sender], host.lab[to]
    return frames.tcp4(s.mac, t.mac, ip_src=s.ipv4, ip_dst=t.ipv4, dport=port)


def passes(host: Host, frame: Any, sender: str = "alice", to: str = "bob") -> bool:
    return arrives(host.lab, sender, frame, to)


def gets_through_(host: Host, frame: Any, sender: str = "alice", to: str = "bob") -> bool:
    return gets_through(host.lab, sender, frame, to)


def test_redefine_needing_a_missing_variable_is_refused(make_host: Callable[..., Host]) -> None:
    host = make_host(guests=3, config=CONFIG)
    lab = host.lab
    host.run("nwfilter-define", host.write("extra.xml", EXTRA.format(port=25)))
    host.run("nwfilter-define", host.write("guarded.xml", GUARDED))
    host.bind(list(lab.guests), "guarded")
    agent = host.start_agent()
    forged = frames.udp4(lab["alice"].mac, lab["bob"].mac, ip_src=lab["carol"].ipv4, ip_dst=lab["bob"].ipv4)

    def old_rules_enforced() -> None:
        assert not passes(host, tcp(host, "alice", "bob", 25))
        assert gets_through_(host, tcp(host, "alice", "bob", 26))
        assert not passes(host, forged)

    old_rules_enforced()
    kernel_before = host.nft("-j", "list", "ruleset").stdout
    generation_mark = len(agent.log())

    refused = host.run("nwfilter-define", host.write("bad.xml", EXTRA.format(port="$NOPE")), check=False)
    assert refused.returncode == 1
    assert "binding vnet0" in refused.stderr and "NOPE" in refused.stderr, refused.stderr
    assert "dstportstart='25'" in host.run("nwfilter-dumpxml", "extra").stdout
    assert host.nft("-j", "list", "ruleset").stdout == kernel_before
    old_rules_enforced()
    assert "converged" not in agent.log()[generation_mark:]  # the store did not move: nothing to do

    undefine = host.run("nwfilter-undefine", "extra", check=False)
    assert undefine.returncode == 1 and "nwfilter is in use" in undefine.stderr

    mark = len(agent.log())
    host.run("nwfilter-define", host.write("ok.xml", EXTRA.format(port=26)))
    assert gets_through_(host, tcp(host, "alice", "bob", 25))
    assert not passes(host, tcp(host, "bob", "carol", 26))
    agent.wait_log(r"converged \(store changed\): no change", after=mark)  # the command applied it already
