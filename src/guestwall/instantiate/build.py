"""Instantiate a binding: its filter tree becomes one PortProgram, ordered and directed as libvirt does it.

Order: rules of root-chain filters first, then by priority (stable, tree order breaks ties); rules of
sub-chains are raised to their chain's priority. Layer-2 rules (no protocol, mac, vlan, stp, arp, rarp, ip,
ipv6) go to libvirt's ebtables-like root and sub-chains, entered by ethertype at the chain priority;
layer-3/4 rules go to one flat chain per direction with libvirt's default connection tracking.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import replace

from guestwall.errors import InstantiationError
from guestwall.instantiate.checks import Built, build_checks
from guestwall.instantiate.fields import L4_PROTOCOL, SUBCHAIN_PREFIXES, SWAP, Field
from guestwall.instantiate.program import (
    ChainProgram,
    Check,
    Entry,
    Fallthrough,
    IPSetRef,
    Jump,
    Operand,
    Origin,
    PortProgram,
    ProgramRule,
    Stage,
    States,
    Value,
    Verdict,
)
from guestwall.instantiate.tree import Env, RuleInstance, walk
from guestwall.instantiate.variables import MissingVariables, combinations, missing_refs, rule_refs
from guestwall.model import Action, Binding, Direction, Filter, Rule

# ebtables user-defined chains fall through back to the root chain.
SUBCHAIN_FALLTHROUGH = Fallthrough.RETURN

_L2_IMPLICIT: dict[str, tuple[Check, ...]] = {
    "ip": (Check(Field.ETHER_TYPE, Value(0x0800)),),
    "ipv6": (Check(Field.ETHER_TYPE, Value(0x86DD)),),
    "arp": (Check(Field.ETHER_TYPE, Value(0x0806)),),
    "rarp": (Check(Field.ETHER_TYPE, Value(0x8035)),),
    "vlan": (Check(Field.ETHER_TYPE, Value(0x8100)),),
    "stp": (Check(Field.ETHER_DST, Value("01:80:c2:00:00:00")),),
}


def layer_of(rule: Rule) -> str:
    """'eb' for layer-2 rules, 'ipv4' or 'ipv6' for layer-3/4 rules."""
    if rule.match is None:
        return "eb"
    from guestwall.nwfilter.schema import PROTOCOLS

    return PROTOCOLS[rule.match.protocol].layer


def top_values(binding: Binding, learned: Sequence[str] = ()) -> dict[str, tuple[str, ...]]:
    """The binding's variables: MAC from the NIC, IP if learned, then its parameters (which win)."""
    values: dict[str, tuple[str, ...]] = {"MAC": (binding.mac,)}
    if learned:
        values["IP"] = tuple(learned)
    values.update(binding.filterref.param_dict())
    return values


def instantiate(binding: Binding, filters: Mapping[str, Filter], learned: Sequence[str] = ()) -> PortProgram:
    """The rule program of one binding. Raises InstantiationError (MissingVariables for missing values)."""
    values = top_values(binding, learned)
    env = Env(values, frozenset(values))
    instances = walk(binding.filterref, filters, env)
    _check_missing(instances, binding.filterref.filter)
    ordered = sorted(instances, key=lambda i: (i.chain != "root", i.rule.priority, i.sequence))
    l2 = [i for i in ordered if layer_of(i.rule) == "eb"]
    l3 = [i for i in ordered if layer_of(i.rule) != "eb"]
    stages = {
        Stage.L2_OUT: _l2_stage(l2, out=True),
        Stage.L2_IN: _l2_stage(l2, out=False),
        Stage.L3_OUT: _l3_stage(l3, out=True),
        Stage.L3_IN: _l3_stage(l3, out=False),
    }
    # the names a binding provides decide which rules are shared and which are per-port expansions
    names_hash = hashlib.sha256(" ".join(sorted(values)).encode()).hexdigest()[:6]
    group = f"{binding.filterref.filter}~{names_hash}"
    return PortProgram(binding.portdev, binding.mac, binding.filterref.filter, group, stages)


def _check_missing(instances: list[RuleInstance], filter_name: str) -> None:
    missing: list[str] = []
    for inst in instances:
        for name in missing_refs(rule_refs(inst.rule), inst.env.values):
            if name not in missing:
                missing.append(name)
    if len(missing) > 1 and "IP" in missing:
        missing.remove("IP")  # libvirt names IP only when it is the one thing missing
    if missing:
        raise MissingVariables(missing, filter_name)


def _origin(inst: RuleInstance, priority: int | None = None) -> Origin:
    return Origin(inst.filter, inst.number, inst.rule.priority if priority is None else priority, inst.chain)


def _built(inst: RuleInstance) -> list[Built]:
    refs = rule_refs(inst.rule)
    values = dict(inst.env.values)
    try:
        combos = combinations(refs, values)
        per_port = any(ref.name in inst.env.top for ref in refs)
        return build_checks(inst.rule.match, combos, inst.env.top, values, holes_allowed=per_port)
    except InstantiationError as e:
        raise InstantiationError(f"{e} (filter {inst.filter}, rule {inst.number})") from e


def _swap_operand(op: Operand) -> Operand:
    if isinstance(op, IPSetRef):
        return IPSetRef(op.name, tuple({"src": "dst", "dst": "src"}[f] for f in op.flags))
    return op


def _reverse(checks: tuple[Check, ...], rows: tuple[tuple[Operand, ...], ...]) -> tuple[tuple[Check, ...], tuple]:
    swapped = tuple(
        replace(c, field=SWAP.get(c.field, c.field), operand=None if c.operand is None else _swap_operand(c.operand))
        for c in checks
    )
    return swapped, tuple(tuple(_swap_operand(op) for op in row) for row in rows)


# ---- layer 2 (libvirt's ebtables chains) ----------------------------------------------------------------


def _l2_verdict(action: Action) -> Verdict:
    return Verdict.DROP if action is Action.REJECT else Verdict(action.value)


def _l2_stage(instances: list[RuleInstance], out: bool) -> tuple[ChainProgram, ...]:
    wanted = (Direction.OUT, Direction.INOUT) if out else (Direction.IN, Direction.INOUT)
    chains: dict[str, list[Entry]] = {"root": []}
    chain_priority: dict[str, int] = {}
    for inst in instances:
        if inst.rule.direction not in wanted:
            continue
        # libvirt raises a sub-chain rule to its chain's priority (after sorting, so order is kept)
        priority = inst.rule.priority
        if inst.chain != "root":
            priority = max(priority, inst.chain_priority)
            chain_priority[inst.chain] = inst.chain_priority
        reverse = out and inst.rule.direction is Direction.INOUT
        protocol = inst.rule.match.protocol if inst.rule.match else None
        for built in _built(inst):
            checks, rows = built.checks, built.rows
            if reverse:
                checks, rows = _reverse(checks, rows)
            rule = ProgramRule(
                _origin(inst, priority),
                _l2_verdict(inst.rule.action),
                _L2_IMPLICIT.get(protocol or "", ()) + checks,
                rows,
                built.comment,
            )
            chains.setdefault(inst.chain, []).append(rule)
    jumps = sorted(
        (_jump(name, prio) for name, prio in chain_priority.items() if _jump(name, prio) is not None),
        key=lambda j: j.priority,  # type: ignore[union-attr]
    )
    root = _merge(chains["root"], [j for j in jumps if j is not None])
    result = [ChainProgram("root", tuple(root), Fallthrough.RETURN)]
    result += [
        ChainProgram(j.chain, tuple(chains[j.chain]), SUBCHAIN_FALLTHROUGH) for j in jumps if j is not None
    ]
    return tuple(result)


def _jump(chain: str, priority: int) -> Jump | None:
    for prefix, field, value in SUBCHAIN_PREFIXES:
        if chain.startswith(prefix):
            checks = () if field is None else (Check(field, Value(value)),)  # type: ignore[arg-type]
            return Jump(chain, checks, priority)
    return None


def _merge(rules: list[Entry], jumps: list[Jump]) -> list[Entry]:
    """A sub-chain's jump goes before the first root rule whose priority is at least the chain's."""
    out: list[Entry] = []
    pending = list(jumps)
    for rule in rules:
        assert isinstance(rule, ProgramRule)
        while pending and pending[0].priority <= rule.origin.priority:
            out.append(pending.pop(0))
        out.append(rule)
    return out + pending


# ---- layer 3/4 (libvirt's iptables chains) ------------------------------------------------------------


def _l3_stage(instances: list[RuleInstance], out: bool) -> tuple[ChainProgram, ...]:
    rules = tuple(r for inst in instances for r in _l3_rules(inst, out))
    return (ChainProgram("root", rules),)


def _l3_rules(inst: RuleInstance, out: bool) -> list[ProgramRule]:
    """The rule in the out chain (libvirt's FJ/HJ: from the guest) or in chain (FP: to the guest)."""
    rule = inst.rule
    assert rule.match is not None
    d_in = rule.direction in (Direction.IN, Direction.INOUT)
    inout = rule.direction is Direction.INOUT
    match = rule.match
    explicit_state = rule.statematch and match.get("state") is not None
    if out:
        reverse = d_in
        may_skip_icmp = d_in or inout
        if explicit_state and d_in and not inout:
            return []
    else:
        reverse = not d_in
        may_skip_icmp = (not d_in) or inout
        if explicit_state and not d_in:
            return []
    has_icmp_type = match.protocol in ("icmp", "icmpv6") and match.get("type") is not None
    if has_icmp_type and may_skip_icmp:
        return []
    if reverse and match.get("connlimit-above") is not None:
        return []  # connection limits only apply in the originating direction
    default_state: States | None = None
    if rule.statematch and not explicit_state and not inout and rule.action is Action.ACCEPT:
        originating = not reverse
        default_state = States(("new", "established") if originating else ("established",))
        if match.get("connlimit-above") is not None:
            default_state = None
    family = 4 if layer_of(rule) == "ipv4" else 6
    implicit = [Check(Field.NFPROTO, Value(family))]
    proto = L4_PROTOCOL[match.protocol]
    if proto is not None:
        implicit.append(Check(Field.IP_PROTO, Value(proto)))
    result = []
    for built in _built(inst):
        checks = tuple(c for c in built.checks if not (rule.statematch is False and c.field is Field.CT_STATE))
        if reverse:
            had_mac = any(c.field is Field.ETHER_SRC for c in checks)
            kept = tuple(c for c in checks if c.field is not Field.ETHER_SRC)
            if had_mac and not [c for c in kept if c.field not in (Field.IPSET, Field.CONNLIMIT)]:
                continue  # only the protocol would remain: libvirt drops the rule
            checks, rows = _reverse(kept, _drop_mac_rows(built, checks))
        else:
            rows = built.rows
        state: list[Check] = []
        if default_state is not None:
            state.append(Check(Field.CT_STATE, default_state))
            if not has_icmp_type:
                state.append(Check(Field.CT_DIRECTION, Value("reply" if reverse else "original")))
        result.append(
            ProgramRule(
                _origin(inst),
                Verdict(rule.action.value),
                (*implicit, *state, *checks),
                rows,
                built.comment,
            )
        )
    return result


def _drop_mac_rows(built: Built, checks: tuple[Check, ...]) -> tuple[tuple[Operand, ...], ...]:
    """Rows without the values of a source-MAC hole (which reversal removes)."""
    holes = [c for c in checks if c.is_hole]
    keep = [i for i, c in enumerate(holes) if c.field is not Field.ETHER_SRC]
    if len(keep) == len(holes):
        return built.rows
    rows: list[tuple[Operand, ...]] = []
    for row in built.rows:
        new = tuple(row[i] for i in keep)
        if new not in rows:
            rows.append(new)
    return tuple(rows) if keep else ()


def explain_missing(e: InstantiationError) -> list[str]:
    return e.missing if isinstance(e, MissingVariables) else []
