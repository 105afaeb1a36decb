"""``match='no'`` negates addresses and ports, never the conntrack state, as libvirt 9.0 does (issue 10).

libvirt's answer is recorded in tests/golden/libvirt/rules/negated-state (``! -s 10.99.0.99/32 ! -d
10.0.0.5/32 -p udp -m conntrack --ctstate INVALID,RELATED,ESTABLISHED``); the frames below check that
guestwall enforces the same meaning.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gw import Guestwall

from guestwall.lab import Lab
from guestwall.lab.traffic import tcp_connect, tcp_server
from netns_fixtures import needs_netns

pytestmark = needs_netns

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "libvirt" / "rules" / "negated-state"

# drop new TCP connections to the guest from anywhere but 10.99.0.99; everything else passes
NEW_FROM_OTHERS = """<filter name='neg-state' chain='root'>
  <rule action='drop' direction='in' priority='500'>
    <tcp match='no' srcipaddr='10.99.0.99' state='NEW'/>
  </rule>
</filter>
"""


@pytest.fixture
def gw(lab: Lab, tmp_path: Path) -> Iterator[Guestwall]:
    yield Guestwall(lab, tmp_path / "gw.db", tmp_path)


def test_libvirt_keeps_the_state_of_a_negated_match() -> None:
    v4 = (GOLDEN / "iptables-save.txt").read_text()
    v6 = (GOLDEN / "ip6tables-save.txt").read_text()
    assert "! -s 10.99.0.99/32 ! -d 10.0.0.5/32 -p udp -m conntrack --ctstate INVALID,RELATED,ESTABLISHED" in v4
    assert "! -s ff02::1:2/128 -p tcp -m tcp --dport 80 -m conntrack --ctstate NEW,RELATED -j DROP" in v6
    assert "! --ctstate" not in v4 + v6


def test_a_negated_match_drops_new_connections_as_libvirt(gw: Guestwall) -> None:
    lab = gw.lab
    gw.define(NEW_FROM_OTHERS)
    gw.bind([lab["bob"]], "neg-state")
    with tcp_server(lab, "bob", 80):
        assert not tcp_connect(lab, "alice", "bob", 80)  # NEW, from elsewhere than 10.99.0.99: dropped
    rules = gw.nft("list", "table", "inet", "guestwall")
    assert "ct state != new" not in rules and "ct state new" in rules
