"""Directions and connection tracking: inout reversal at layer 2, libvirt's default conntrack at layer 3,
explicit states, ICMP types and source MACs in the reverse direction (reference §2.1, §2.5)."""

from __future__ import annotations

from helpers import chain, filters, program

from guestwall.instantiate.fields import Field
from guestwall.instantiate.program import Check, ProgramRule, ProgramVerdict, Stage, States, Value
from guestwall.model.mac import MacAddress


def rules(xml: str, stage: Stage) -> list[ProgramRule]:
    prog = program("t", filters(xml))
    return [e for e in chain(prog, stage).entries if isinstance(e, ProgramRule)]


def fields(rule: ProgramRule) -> dict[Field, object]:
    return {c.field: c.operand for c in rule.checks}


def test_out_accept_gets_new_established_original_and_a_reply_rule() -> None:
    xml = "<filter name='t'><rule action='accept' direction='out' priority='500'><tcp dstportstart='80'/></rule></filter>"
    (out,) = rules(xml, Stage.L3_OUT)
    (back,) = rules(xml, Stage.L3_IN)
    assert fields(out)[Field.CT_STATE] == States(("new", "established"))
    assert fields(out)[Field.CT_DIRECTION] == Value("original")
    assert fields(out)[Field.L4_DPORT] == Value(80)
    assert fields(back)[Field.CT_STATE] == States(("established",))
    assert fields(back)[Field.CT_DIRECTION] == Value("reply")
    assert fields(back)[Field.L4_SPORT] == Value(80)  # src and dst swapped


def test_drop_has_no_state_and_applies_both_ways() -> None:
    xml = "<filter name='t'><rule action='drop' direction='out' priority='500'><tcp dstportstart='80'/></rule></filter>"
    (out,) = rules(xml, Stage.L3_OUT)
    (back,) = rules(xml, Stage.L3_IN)
    assert Field.CT_STATE not in fields(out) and Field.CT_STATE not in fields(back)
    assert fields(back)[Field.L4_SPORT] == Value(80)


def test_inout_and_statematch_false_have_no_state() -> None:
    for attrs in ("direction='inout'", "direction='out' statematch='false'"):
        xml = f"<filter name='t'><rule action='accept' {attrs} priority='500'><udp/></rule></filter>"
        for stage in (Stage.L3_OUT, Stage.L3_IN):
            (r,) = rules(xml, stage)
            assert Field.CT_STATE not in fields(r), (attrs, stage)


def test_explicit_state_only_in_its_own_direction() -> None:
    xml = "<filter name='t'><rule action='accept' direction='out' priority='500'><all state='NEW'/></rule></filter>"
    (out,) = rules(xml, Stage.L3_OUT)
    assert fields(out)[Field.CT_STATE] == States(("new",)) and Field.CT_DIRECTION not in fields(out)
    assert rules(xml, Stage.L3_IN) == []


def test_icmp_type_only_in_its_own_direction_and_without_ctdir() -> None:
    xml = "<filter name='t'><rule action='accept' direction='in' priority='500'><icmp type='0'/></rule></filter>"
    assert rules(xml, Stage.L3_OUT) == []
    (r,) = rules(xml, Stage.L3_IN)
    assert Field.CT_DIRECTION not in fields(r)
    inout = "<filter name='t'><rule action='accept' direction='inout' priority='500'><icmp type='8'/></rule></filter>"
    assert rules(inout, Stage.L3_OUT) == rules(inout, Stage.L3_IN) == []


def test_source_mac_is_skipped_in_reverse_and_a_bare_rule_dropped() -> None:
    xml = "<filter name='t'><rule action='drop' direction='out' priority='500'><tcp srcmacaddr='52:54:00:00:00:09'/></rule></filter>"
    (out,) = rules(xml, Stage.L3_OUT)
    assert fields(out)[Field.ETHER_SRC] == Value(MacAddress(0x525400000009))
    assert rules(xml, Stage.L3_IN) == []


def test_inout_layer2_rule_is_reversed_from_the_guest() -> None:
    xml = "<filter name='t'><rule action='drop' direction='inout' priority='500'><mac srcmacaddr='52:54:00:00:00:09'/></rule></filter>"
    (out,) = rules(xml, Stage.L2_OUT)
    (into,) = rules(xml, Stage.L2_IN)
    assert Check(Field.ETHER_DST, Value(MacAddress(0x525400000009))) in out.checks
    assert Check(Field.ETHER_SRC, Value(MacAddress(0x525400000009))) in into.checks


def test_reject_is_a_drop_at_layer_2_and_a_reject_at_layer_3() -> None:
    xml = """<filter name='t'>
      <rule action='reject' direction='out' priority='500'><mac/></rule>
      <rule action='reject' direction='out' priority='500'><tcp/></rule>
    </filter>"""
    assert [r.verdict for r in rules(xml, Stage.L2_OUT)] == [ProgramVerdict.DROP]
    assert [r.verdict for r in rules(xml, Stage.L3_OUT)] == [ProgramVerdict.REJECT]
