"""cloud.explain names the provider blocks behind the set elements the deciding rule matched (issue 9):
the simulator's lookup, not a second evaluation of protocol, ports and CIDR in Python."""

from __future__ import annotations

from ipaddress import ip_network
from typing import cast

from guestwall.cloud import translate as tr
from guestwall.cloud.explain import describe
from guestwall.instantiate.fields import Field
from guestwall.instantiate.program import Check, IPSetRef, Origin, ProgramRule, ProgramVerdict, Stage
from guestwall.model.cloud import BlockKind, Network, ProviderBlock
from guestwall.simulate.evaluate import SimulationResult, matched_elements
from guestwall.simulate.packet import parse_packet
from guestwall.store.cloudrepo import CloudReader

BLOCKS = [
    ProviderBlock("any-wide", ip_network("10.0.0.0/8")),
    ProviderBlock("ssh-16", ip_network("10.1.0.0/16"), "tcp", 22, 22),
    ProviderBlock("ssh-24", ip_network("10.1.2.0/24"), "tcp", 22, 22),
    ProviderBlock("ssh-other", ip_network("10.9.0.0/16"), "tcp", 22, 22),
    ProviderBlock("udp-16", ip_network("10.1.0.0/16"), "udp"),
]


class _Blocks:
    """The one reader method explain uses for provider blocks: the blocks of one CIDR."""

    def __init__(self) -> None:
        self.asked: list[Network] = []

    def provider_blocks(self, cidr: Network | None = None) -> list[ProviderBlock]:
        assert cidr is not None, "explain reads the blocks of the matched elements, never every block"
        self.asked.append(cidr)
        return [b for b in BLOCKS if b.cidr == cidr]


def _decided_by(set_name: str, negated: bool = False) -> SimulationResult:
    check = Check(Field.IPSET, IPSetRef(set_name, ("src",)), negated)
    rule = ProgramRule(Origin(tr.PROVIDER, 2, -950), ProgramVerdict.DROP, (check,))
    return SimulationResult("drop", rule, Stage.L3_IN, sets=tr.provider_sets(BLOCKS))


def test_the_blocks_named_are_those_of_the_matched_set_elements() -> None:
    ssh = tr.provider_set_name(BlockKind("tcp", 22, 22))
    packet = parse_packet("src=10.1.2.3 dst=192.0.2.1 tcp dport=22")
    result = _decided_by(ssh)
    assert matched_elements(result, packet) == {ssh: (ip_network("10.1.0.0/16"), ip_network("10.1.2.0/24"))}
    reader = _Blocks()
    line = describe(cast(CloudReader, reader), result, packet)
    # not the whole-CIDR block nor the UDP block of the same CIDR: the deciding rule looked up the ssh set
    assert line == "provider block 10.1.0.0/16 (ssh-16), 10.1.2.0/24 (ssh-24)"
    assert reader.asked == [ip_network("10.1.0.0/16"), ip_network("10.1.2.0/24")]


def test_a_negated_lookup_or_an_unmatched_address_names_no_block() -> None:
    packet = parse_packet("src=172.16.0.1 dst=192.0.2.1 tcp dport=22")
    ssh = tr.provider_set_name(BlockKind("tcp", 22, 22))
    assert matched_elements(_decided_by(ssh), packet) == {ssh: ()}
    assert matched_elements(_decided_by(ssh, negated=True), packet) == {}
    assert describe(cast(CloudReader, _Blocks()), _decided_by(ssh), packet) == "a provider block"
