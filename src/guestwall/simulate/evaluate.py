"""Evaluate a packet on a port's rule program, stage by stage in packet order, and explain the verdict.

The program is exactly what the compiler turns into kernel rules; evaluation follows nftables semantics
(first matching rule decides; return goes back to the caller; a chain's end returns, or accepts where
the chain says so; the root chain's end accepts). A hole matches if any of its port's values match.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_network

from guestwall.instantiate.fields import Field
from guestwall.instantiate.program import (
    ChainProgram,
    Check,
    Fallthrough,
    Flags,
    IPSetRef,
    Jump,
    Operand,
    PortProgram,
    Prefix,
    ProgramRule,
    ProgramVerdict,
    Range,
    Stage,
    States,
    Value,
)
from guestwall.model import AddressSet
from guestwall.model.mac import MacAddress
from guestwall.simulate.packet import Packet

Network = IPv4Network | IPv6Network

STAGES = {"out": (Stage.L2_OUT, Stage.L3_OUT), "in": (Stage.L3_IN, Stage.L2_IN)}


@dataclass
class Step:
    stage: Stage
    chain: str
    entry: str
    matched: bool


@dataclass
class SimulationResult:
    verdict: str  # "accept" or "drop"
    decided_by: ProgramRule | None
    stage: Stage | None
    trace: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sets: Mapping[str, AddressSet] = field(default_factory=dict)  # address sets by name (``ipset``)

    def explain(self) -> str:
        if self.decided_by is None:
            return f"{self.verdict}: no rule decided (the end of the chains accepts)"
        r = self.decided_by
        return f"{self.verdict}: {r.verdict.value} by {r.origin} in {self.stage.value if self.stage else '?'}"


def _scalar_eq(packet_value: object, value: object) -> bool:
    if isinstance(value, str) and isinstance(packet_value, str):
        return value.lower() == packet_value.lower()
    return packet_value == value


def operand_matches(op: Operand, value: object) -> bool:
    if isinstance(op, Value):
        return _scalar_eq(value, op.value)
    if isinstance(op, Prefix):
        if isinstance(value, IPv4Address | IPv6Address):
            return value in ip_network(f"{op.addr}/{op.length}", strict=False)
        if isinstance(value, MacAddress) and isinstance(op.addr, MacAddress):
            return value.same_prefix(op.addr, op.length)
        return False
    if isinstance(op, Range):
        try:
            return op.lo <= value <= op.hi  # type: ignore[operator]
        except TypeError:
            return False
    if isinstance(op, States):
        return value in op.names
    if isinstance(op, Flags):
        return isinstance(value, int) and (value & op.mask) == op.set
    return False


_SET_FIELDS = {
    ("src", 4): Field.IP4_SRC,
    ("dst", 4): Field.IP4_DST,
    ("src", 6): Field.IP6_SRC,
    ("dst", 6): Field.IP6_DST,
}


def in_address_set(
    ref: IPSetRef, packet: Packet, sets: Mapping[str, AddressSet], notes: list[str]
) -> bool | None:
    """Whether the packet's address (the set's one dimension, src or dst) is a member; None when unknown."""
    aset = sets.get(ref.name)
    if aset is None:
        notes.append(f"address set {ref.name} does not exist; assumed not to match")
        return None
    addr = _set_address(ref, packet)
    if addr is None:
        return None  # no such address in the packet: no match, negated or not
    return any(addr.version == net.version and addr in net for net in aset.networks)


def _set_address(ref: IPSetRef, packet: Packet) -> IPv4Address | IPv6Address | None:
    """The packet's address that the set is looked up with (its one dimension, src or dst)."""
    version = 6 if packet.get(Field.ETHER_TYPE) == 0x86DD else 4
    addr = packet.get(_SET_FIELDS[(ref.flags[0], version)]) if ref.flags else None
    return addr if isinstance(addr, IPv4Address | IPv6Address) else None


def matched_elements(result: SimulationResult, packet: Packet) -> dict[str, tuple[Network, ...]]:
    """The elements the deciding rule's address-set lookups found, by set name: what the kernel's lookup
    matched (negated lookups match no element and are left out)."""
    rule = result.decided_by
    out: dict[str, tuple[Network, ...]] = {}
    for check in rule.checks if rule is not None else ():
        ref = check.operand
        aset = result.sets.get(ref.name) if isinstance(ref, IPSetRef) and not check.negated else None
        addr = _set_address(ref, packet) if isinstance(ref, IPSetRef) else None
        if aset is not None and addr is not None:
            out[aset.name] = tuple(n for n in aset.networks if n.version == addr.version and addr in n)
    return out


def check_matches(
    check: Check,
    packet: Packet,
    operand: Operand | None,
    notes: list[str],
    sets: Mapping[str, AddressSet] | None = None,
) -> bool:
    if isinstance(operand, IPSetRef) and sets is not None:
        member = in_address_set(operand, packet, sets, notes)
        return member is not None and member != check.negated
    if check.field is Field.IPSET or check.field is Field.CONNLIMIT or isinstance(operand, IPSetRef):
        notes.append(f"{check.field.value} cannot be simulated; assumed not to match")
        return False
    value = packet.get(check.field)
    if value is None:
        return False  # an absent header field never matches, negated or not (nft payload dependency)
    assert operand is not None
    return operand_matches(operand, value) != check.negated


def rule_matches(
    rule: ProgramRule, packet: Packet, notes: list[str], sets: Mapping[str, AddressSet] | None = None
) -> bool:
    constant = all(check_matches(c, packet, c.operand, notes, sets) for c in rule.checks if not c.is_hole)
    if not constant:
        return False
    holes = rule.holes
    if not holes:
        return True
    # libvirt's expansion: one rule per combination of values, consecutive with the same verdict
    return any(
        all(check_matches(h, packet, op, notes, sets) for h, op in zip(holes, row, strict=True))
        for row in rule.rows
    )


class _Decided(Exception):
    def __init__(self, verdict: str, rule: ProgramRule) -> None:
        self.verdict = verdict
        self.rule = rule


def _run_chain(
    chains: dict[str, ChainProgram], name: str, stage: Stage, packet: Packet, out: SimulationResult
) -> bool:
    """Evaluate a chain; True if it ended by returning to its caller."""
    chain = chains[name]
    for entry in chain.entries:
        if isinstance(entry, Jump):
            hit = all(check_matches(c, packet, c.operand, out.notes, out.sets) for c in entry.checks)
            out.trace.append(Step(stage, name, f"jump {entry.chain}", hit))
            if hit:
                _run_chain(chains, entry.chain, stage, packet, out)
            continue
        hit = rule_matches(entry, packet, out.notes, out.sets)
        out.trace.append(Step(stage, name, str(entry.origin), hit))
        if not hit or entry.verdict is ProgramVerdict.CONTINUE:
            continue
        if entry.verdict is ProgramVerdict.RETURN:
            return True
        raise _Decided("accept" if entry.verdict is ProgramVerdict.ACCEPT else "drop", entry)
    if chain.fallthrough is Fallthrough.ACCEPT:
        raise _Decided("accept", ProgramRule(_fallthrough_origin(name), ProgramVerdict.ACCEPT, ()))
    return True


def _fallthrough_origin(chain: str):  # type: ignore[no-untyped-def]
    from guestwall.instantiate.program import Origin

    return Origin(f"(end of chain {chain})", 0, 0, chain)


def simulate(
    program: PortProgram, direction: str, packet: Packet, sets: Mapping[str, AddressSet] | None = None
) -> SimulationResult:
    """The verdict the port's rules give a packet sent by the guest (``out``) or delivered to it (``in``).
    ``sets``: the address sets that ``ipset`` attributes name (a set not given matches nothing)."""
    out = SimulationResult("accept", None, None, sets=sets if sets is not None else {})
    for stage in STAGES[direction]:
        chains = {c.name: c for c in program.chains(stage)}
        if not chains:
            continue
        if stage in (Stage.L3_OUT, Stage.L3_IN) and not packet.is_ip:
            continue  # layer-3 rules only see IP packets
        try:
            _run_chain(chains, "root", stage, packet, out)
        except _Decided as d:
            if d.verdict == "drop":
                out.stage, out.decided_by, out.verdict = stage, d.rule, "drop"
                return out
            # an IP packet's acceptance is explained by its layer-3 rules (groups, filters on addresses
            # and ports), not by the layer-2 rules that let it on to them (or follow them, inbound)
            if out.stage not in (Stage.L3_OUT, Stage.L3_IN):
                out.stage, out.decided_by = stage, d.rule
    return out
