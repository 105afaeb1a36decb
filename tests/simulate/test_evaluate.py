"""The simulator on small hand-written programs: which rule decides, with which verdict, in which stage
(first match decides; continue goes on; return goes back to the caller; a chain's end returns or accepts)."""

from __future__ import annotations

from guestwall.instantiate.fields import Field
from guestwall.instantiate.program import (
    ChainProgram,
    Check,
    Fallthrough,
    Jump,
    Origin,
    PortProgram,
    ProgramRule,
    ProgramVerdict,
    Range,
    Stage,
    Value,
)
from guestwall.model import MacAddress
from guestwall.simulate import parse_packet, simulate
from guestwall.simulate.evaluate import SimulationResult

SSH = parse_packet("ipv4 src=10.0.0.5 dst=10.0.0.9 proto=tcp sport=40000 dport=22")
WEB = parse_packet("ipv4 src=10.0.0.5 dst=10.0.0.9 proto=tcp sport=40000 dport=80")
ARP = parse_packet("arp op=request spa=10.0.0.5 tpa=10.0.0.9")


def rule(number: int, verdict: ProgramVerdict, *checks: Check, chain: str = "root") -> ProgramRule:
    return ProgramRule(Origin("f", number, 500, chain), verdict, checks)


def dport(port: int) -> Check:
    return Check(Field.L4_DPORT, Value(port))


def program(**stages: tuple[ChainProgram, ...]) -> PortProgram:
    by_stage = {Stage(name.replace("_", "-")): chains for name, chains in stages.items()}
    return PortProgram("vnet0", MacAddress(0x525400000001), "f", "g", by_stage)


def decided(outcome: SimulationResult) -> tuple[str, int | None, str | None, Stage | None]:
    r = outcome.decided_by
    return outcome.verdict, r.origin.rule if r else None, r.origin.chain if r else None, outcome.stage


def test_first_matching_rule_decides_accept_and_drop() -> None:
    root = ChainProgram("root", (rule(1, ProgramVerdict.ACCEPT, dport(22)), rule(2, ProgramVerdict.DROP)))
    prog = program(l2_out=(root,))
    assert decided(simulate(prog, "out", SSH)) == ("accept", 1, "root", Stage.L2_OUT)
    assert decided(simulate(prog, "out", WEB)) == ("drop", 2, "root", Stage.L2_OUT)


def test_reject_counts_as_drop() -> None:
    prog = program(l2_out=(ChainProgram("root", (rule(1, ProgramVerdict.REJECT, dport(80)),)),))
    assert decided(simulate(prog, "out", WEB)) == ("drop", 1, "root", Stage.L2_OUT)


def test_continue_goes_on_to_the_next_rule() -> None:
    root = ChainProgram("root", (rule(1, ProgramVerdict.CONTINUE, dport(22)), rule(2, ProgramVerdict.DROP, dport(22))))
    outcome = simulate(program(l2_out=(root,)), "out", SSH)
    assert decided(outcome) == ("drop", 2, "root", Stage.L2_OUT)
    assert [(s.entry, s.matched) for s in outcome.trace] == [
        ("filter f rule 1 (priority 500, chain root)", True),
        ("filter f rule 2 (priority 500, chain root)", True),
    ]


def test_return_goes_back_to_the_caller_which_goes_on() -> None:
    sub = ChainProgram(
        "sub",
        (rule(1, ProgramVerdict.RETURN, dport(22), chain="sub"), rule(2, ProgramVerdict.DROP, chain="sub")),
    )
    root = ChainProgram("root", (Jump("sub", (), 0), rule(3, ProgramVerdict.ACCEPT)))
    prog = program(l2_out=(root, sub))
    assert decided(simulate(prog, "out", SSH)) == ("accept", 3, "root", Stage.L2_OUT)
    assert decided(simulate(prog, "out", WEB)) == ("drop", 2, "sub", Stage.L2_OUT)


def test_a_jump_whose_checks_fail_skips_the_chain() -> None:
    sub = ChainProgram("sub", (rule(1, ProgramVerdict.DROP, chain="sub"),))
    root = ChainProgram("root", (Jump("sub", (Check(Field.ETHER_TYPE, Value(0x0806)),), 0),))
    prog = program(l2_out=(root, sub))
    assert decided(simulate(prog, "out", SSH)) == ("accept", None, None, None)
    assert decided(simulate(prog, "out", ARP)) == ("drop", 1, "sub", Stage.L2_OUT)


def test_end_of_chain_returns_or_accepts_as_the_chain_says() -> None:
    quiet = program(l2_out=(ChainProgram("root", (rule(1, ProgramVerdict.DROP, dport(80)),)),))
    assert decided(simulate(quiet, "out", SSH)) == ("accept", None, None, None)
    accepting = ChainProgram("root", (rule(1, ProgramVerdict.DROP, dport(80)),), Fallthrough.ACCEPT)
    outcome = simulate(program(l2_out=(accepting,)), "out", SSH)
    assert outcome.verdict == "accept" and outcome.decided_by is not None
    assert outcome.decided_by.origin.filter == "(end of chain root)"


def test_a_later_stage_can_drop_what_layer_2_accepted() -> None:
    l2 = ChainProgram("root", (rule(1, ProgramVerdict.ACCEPT),))
    l3 = ChainProgram("root", (rule(2, ProgramVerdict.DROP, dport(80)),))
    prog = program(l2_out=(l2,), l3_out=(l3,))
    assert decided(simulate(prog, "out", WEB)) == ("drop", 2, "root", Stage.L3_OUT)
    # accepted by both: the layer-3 rule explains it
    l3_accept = ChainProgram("root", (rule(3, ProgramVerdict.ACCEPT, Check(Field.L4_DPORT, Range(20, 30))),))
    assert decided(simulate(program(l2_out=(l2,), l3_out=(l3_accept,)), "out", SSH)) == (
        "accept",
        3,
        "root",
        Stage.L3_OUT,
    )


def test_layer_3_rules_do_not_see_non_ip_frames_and_direction_picks_the_stages() -> None:
    l3 = ChainProgram("root", (rule(1, ProgramVerdict.DROP),))
    prog = program(l3_out=(l3,))
    assert simulate(prog, "out", ARP).verdict == "accept"
    assert simulate(prog, "out", SSH).verdict == "drop"
    assert simulate(prog, "in", SSH).verdict == "accept"  # inbound runs l3-in and l2-in, not l3-out


def test_negated_check_and_absent_field() -> None:
    not_ssh = Check(Field.L4_DPORT, Value(22), negated=True)
    prog = program(l2_out=(ChainProgram("root", (rule(1, ProgramVerdict.DROP, not_ssh),)),))
    assert simulate(prog, "out", WEB).verdict == "drop"
    assert simulate(prog, "out", SSH).verdict == "accept"
    assert simulate(prog, "out", ARP).verdict == "accept"  # no port in an ARP frame: never matches


def test_macs_in_filters_and_packets_compare_as_values() -> None:
    """MAC checks from the XML (any case, one-digit groups), the STP sub-chain's group address and the
    packet's MACs are one type: a mismatch of text forms could not make a drop rule miss."""
    import uuid

    from guestwall.instantiate import instantiate
    from guestwall.model import Binding, FilterRef, MacAddress, Owner
    from guestwall.nwfilter import parse_filter

    def port_program(*xmls: str) -> PortProgram:
        defs = {f.name: f for f in map(parse_filter, xmls)}
        binding = Binding(Owner("vm", uuid.UUID(int=1)), "vnet0", MacAddress(1), FilterRef("top"))
        return instantiate(binding, defs)

    stp = port_program(
        "<filter name='s' chain='stp'><rule action='drop' direction='out'><stp/></rule></filter>",
        "<filter name='top'><filterref filter='s'/></filter>",
    )
    assert simulate(stp, "out", parse_packet("dmac=01:80:C2:0:0:0 type=0x0027")).verdict == "drop"
    assert simulate(stp, "out", parse_packet("dmac=01:80:c2:00:00:01 type=0x0027")).verdict == "accept"
    masked = port_program(
        "<filter name='top'><rule action='drop' direction='out'>"
        "<mac srcmacaddr='52:54:0:AA:0:0' srcmacmask='FF:FF:FF:FF:0:0'/></rule></filter>"
    )
    assert simulate(masked, "out", parse_packet("smac=52:54:00:aa:12:34 ipv4")).verdict == "drop"
    assert simulate(masked, "out", parse_packet("smac=52:54:00:ab:00:00 ipv4")).verdict == "accept"
