"""``guestwall doctor``'s fixes (pure): nft fixes are typed commands inserted at the top of the foreign chain,
shown exactly as they are run; iptables-nft's tables get iptables commands; a foreign name nft could not
read as one name gets no fix rather than a command that means something else. (With real tables and
guests: test_networks_doctor.py.)"""

from __future__ import annotations

from typing import Any

from guestwall.dataplane.backend import RecordingBackend
from guestwall.networks.doctor import apply_fixes, coexistence
from guestwall.networks.xml import parse_network
from guestwall.nft.commands import Verb

NET = parse_network(
    "<network><name>dk</name><forward mode='nat'/><bridge name='gwdk0'/>"
    "<ip address='10.87.0.1' prefix='24'/></network>"
)


def _listing(*chains: tuple[str, str, str, str]) -> dict[str, Any]:
    return {
        "nftables": [
            {"chain": {"family": f, "table": t, "name": n, "hook": h, "policy": "drop"}}
            for f, t, n, h in chains
        ]
    }


def test_nft_fixes_are_typed_inserts_shown_as_run() -> None:
    listing = _listing(
        ("ip", "dockerish", "FORWARD", "forward"),
        ("inet", "hostfw", "input", "input"),
        ("inet", "hostfw", "output", "output"),
    )
    findings = coexistence(listing, [NET])
    tag = 'comment "guestwall-coexist:gwdk0"'
    assert [f.fixes for f in findings] == [
        (
            f'nft insert rule ip dockerish FORWARD oifname "gwdk0" ct state established,related accept {tag}',
            f'nft insert rule ip dockerish FORWARD iifname "gwdk0" accept {tag}',
        ),
        (
            f'nft insert rule inet hostfw input iifname "gwdk0" meta l4proto {{ tcp, udp }} th dport {{ 53, 67 }} accept {tag}',
        ),
        (
            f'nft insert rule inet hostfw output oifname "gwdk0" meta l4proto {{ tcp, udp }} th dport {{ 53, 68 }} accept {tag}',
        ),
    ]
    assert all(c.verb is Verb.INSERT for f in findings for c in f.nft)
    backend = RecordingBackend()
    assert apply_fixes(backend, findings) == []  # nothing left for another tool
    assert backend.transactions == [
        "".join(fix.removeprefix("nft ") + "\n" for f in findings for fix in f.fixes)
    ]


def test_iptables_tables_get_iptables_fixes() -> None:
    findings = coexistence(_listing(("ip", "filter", "FORWARD", "forward")), [NET])
    assert findings[0].nft == ()
    assert (
        findings[0].fixes[1]
        == "iptables -I FORWARD -i gwdk0 -j ACCEPT -m comment --comment guestwall-coexist:gwdk0"
    )
    backend = RecordingBackend()
    assert apply_fixes(backend, findings) == list(findings[0].fixes)
    assert backend.transactions == []


def test_a_foreign_name_nft_cannot_read_as_one_gets_no_fix() -> None:
    findings = coexistence(_listing(("inet", "host fw", "input; flush ruleset", "input")), [NET])
    assert len(findings) == 1 and findings[0].fixes == ()
    assert "no fix offered" in findings[0].problem and "drops DHCP and DNS" in findings[0].problem
