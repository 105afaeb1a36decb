"""Instantiate a binding: its filter tree becomes one PortProgram, ordered and directed as libvirt does it.

Order: rules of root-chain filters first, then by priority (stable, tree order breaks ties); rules of
sub-chains are raised to their chain's priority. Layer-2 rules (no protocol, mac, vlan, stp, arp, rarp, ip,
ipv6) go to libvirt's ebtables-like root and sub-chains, entered by ethertype at the chain priority;
layer-3/4 rules go to one flat chain per direction with libvirt's default connection tracking.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from guestwall.errors import InstantiationError
from guestwall.instantiate.checks import Built, Recipe, build_checks, rows_for
from guestwall.instantiate.fields import L4_PROTOCOL, SUBCHAIN_PREFIXES, SWAP, Field
from guestwall.instantiate.program import (
    LOG_MODES,
    LOG_PARAMETER,
    ChainEntry,
    ChainProgram,
    Check,
    Fallthrough,
    IPSetRef,
    Jump,
    Operand,
    Origin,
    PortProgram,
    ProgramRule,
    ProgramVerdict,
    Stage,
    States,
    Value,
)
from guestwall.instantiate.tree import Env, RuleInstance, walk
from guestwall.instantiate.variables import MissingVariables, combinations, missing_refs, rule_refs
from guestwall.model import Action, Binding, Direction, Filter, FilterRef, Rule
from guestwall.model.mac import STP_GROUP

# libvirt never sets a policy on its ebtables chains; a user-defined chain's default policy is ACCEPT
# (ebtables-nft ends each with an accept rule; tests/golden/libvirt/rules/*/nft.txt): a frame that falls
# off the end of a sub-chain is accepted, it does not return to the root chain.
SUBCHAIN_FALLTHROUGH = Fallthrough.ACCEPT

_L2_IMPLICIT: dict[str, tuple[Check, ...]] = {
    "ip": (Check(Field.ETHER_TYPE, Value(0x0800)),),
    "ipv6": (Check(Field.ETHER_TYPE, Value(0x86DD)),),
    "arp": (Check(Field.ETHER_TYPE, Value(0x0806)),),
    "rarp": (Check(Field.ETHER_TYPE, Value(0x8035)),),
    "vlan": (Check(Field.ETHER_TYPE, Value(0x8100)),),
    "stp": (Check(Field.ETHER_DST, Value(STP_GROUP)),),
}


def layer_of(rule: Rule) -> str:
    """'eb' for layer-2 rules, 'ipv4' or 'ipv6' for layer-3/4 rules."""
    if rule.match is None:
        return "eb"
    from guestwall.nwfilter.schema import PROTOCOLS

    return PROTOCOLS[rule.match.protocol].layer


def nic_parameters(binding: Binding) -> dict[str, tuple[str, ...]]:
    """The binding's parameters with MAC from the NIC unless one is given: the one place MAC is added.
    libvirt adds it when it instantiates a binding, and the binding keeps it (binding-dumpxml shows it), so
    bindings are stored with it (services.bindings.with_mac_parameter) and instantiation finds it there."""
    params = binding.filterref.param_dict()
    params.setdefault("MAC", (str(binding.mac),))
    return params


def top_values(binding: Binding, learned: Sequence[str] = ()) -> dict[str, tuple[str, ...]]:
    """The binding's variables: MAC, IP if learned, then its parameters (which win)."""
    params = nic_parameters(binding)
    values: dict[str, tuple[str, ...]] = {"MAC": params.pop("MAC")}
    if learned:
        values["IP"] = tuple(learned)
    values.update(params)
    return values


def instantiate(binding: Binding, filters: Mapping[str, Filter], learned: Sequence[str] = ()) -> PortProgram:
    """The rule program of one binding. Raises InstantiationError (MissingVariables for missing values)."""
    return Planner(filters).instantiate(binding, learned)


@dataclass(frozen=True)
class Plan:
    """A group's program without per-port values: rules with holes, and the recipes that fill them."""

    filter: str
    group: str
    stages: dict[Stage, tuple[ChainProgram, ...]]
    recipes: dict[tuple[Stage, str, int], Recipe]  # (stage, chain, entry index) -> recipe
    # the recipes again, by where a port fills them: stage, chain index, (entry index, recipe) pairs
    holes: tuple[tuple[Stage, tuple[tuple[int, tuple[tuple[int, Recipe], ...]], ...]], ...]
    log: str = ""


class Planner:
    """Instantiates bindings against one set of filter definitions.

    A program's structure depends only on the top filter and on which variable names the binding provides
    (values given at the top win everywhere below), so it is planned once per such group; each port then
    only computes its rows. This is what makes a thousand bindings cheap.
    """

    def __init__(self, filters: Mapping[str, Filter]) -> None:
        self.filters = filters
        self._plans: dict[tuple[str, frozenset[str]], Plan] = {}

    def plan(self, filter_name: str, names: frozenset[str], values: Mapping[str, tuple[str, ...]]) -> Plan:
        key = (filter_name, names)
        if key not in self._plans:
            self._plans[key] = _plan(filter_name, self.filters, values)
        return self._plans[key]

    def instantiate(self, binding: Binding, learned: Sequence[str] = ()) -> PortProgram:
        values = top_values(binding, learned)
        # the log mode is part of the group: logged ports share chains that carry log statements
        names = frozenset(values) | {f"{LOG_PARAMETER}={m}" for m in values.get(LOG_PARAMETER, ())}
        plan = self.plan(binding.filterref.filter, names, values)
        return _fill(plan, binding, values)


def _plan(filter_name: str, filters: Mapping[str, Filter], values: Mapping[str, tuple[str, ...]]) -> Plan:
    env = Env(values, frozenset(values))
    instances = walk(FilterRef(filter_name), filters, env)
    _check_missing(instances, filter_name)
    ordered = sorted(instances, key=lambda i: (i.chain != "root", i.rule.priority, i.sequence))
    l2 = [i for i in ordered if layer_of(i.rule) == "eb"]
    l3 = [i for i in ordered if layer_of(i.rule) != "eb"]
    recipes: dict[tuple[Stage, str, int], Recipe] = {}
    stages = {
        Stage.L2_OUT: _l2_stage(l2, True, Stage.L2_OUT, recipes),
        Stage.L2_IN: _l2_stage(l2, False, Stage.L2_IN, recipes),
        Stage.L3_OUT: _l3_stage(l3, True, Stage.L3_OUT, recipes),
        Stage.L3_IN: _l3_stage(l3, False, Stage.L3_IN, recipes),
    }
    # the names a binding provides decide which rules are shared and which are per-port expansions
    log = log_mode(values)
    provided = sorted(values) + ([f"{LOG_PARAMETER}={log}"] if log else [])
    names_hash = hashlib.sha256(" ".join(provided).encode()).hexdigest()[:6]
    found = ((stage, _holes_of(stage, chains, recipes)) for stage, chains in stages.items())
    holes = tuple((stage, fills) for stage, fills in found if fills)
    return Plan(filter_name, f"{filter_name}~{names_hash}", stages, recipes, holes, log)


def _holes_of(
    stage: Stage, chains: tuple[ChainProgram, ...], recipes: Mapping[tuple[Stage, str, int], Recipe]
) -> tuple[tuple[int, tuple[tuple[int, Recipe], ...]], ...]:
    """The chains of a stage a port fills (their indexes) with their holes (entry index, recipe): a port
    then visits only its holes, not every rule of the group (clean-traffic: 40 rules and 8 holes)."""
    out = []
    for c, chain in enumerate(chains):
        found = ((i, recipes.get((stage, chain.name, i))) for i in range(len(chain.entries)))
        holes = tuple((i, recipe) for i, recipe in found if recipe is not None)
        if holes:
            out.append((c, holes))
    return tuple(out)


def log_mode(values: Mapping[str, tuple[str, ...]]) -> str:
    """The binding's drop-log mode (LOG_PARAMETER), or "" when it has none."""
    given = values.get(LOG_PARAMETER, ())
    if not given:
        return ""
    if len(given) != 1 or given[0] not in LOG_MODES:
        raise InstantiationError(
            f"parameter {LOG_PARAMETER} must be one of {', '.join(LOG_MODES)}, not {', '.join(given)}"
        )
    return given[0]


def _fill(plan: Plan, binding: Binding, values: Mapping[str, tuple[str, ...]]) -> PortProgram:
    """The group's program with this port's rows in its holes; chains without one are the plan's own."""
    stages = dict(plan.stages)
    for stage, fills in plan.holes:
        chains = list(stages[stage])
        for c, holes in fills:
            chain = chains[c]
            entries = list(chain.entries)
            for i, recipe in holes:
                entry = entries[i]
                assert isinstance(entry, ProgramRule)
                try:
                    rows = rows_for(recipe, values)
                except InstantiationError as e:
                    where = f"filter {entry.origin.filter}, rule {entry.origin.rule}"
                    raise InstantiationError(f"{e} ({where})") from e
                entries[i] = ProgramRule(entry.origin, entry.verdict, entry.checks, rows, entry.comment)
            chains[c] = ChainProgram(chain.name, tuple(entries), chain.fallthrough)
        stages[stage] = tuple(chains)
    return PortProgram(binding.portdev, binding.mac, plan.filter, plan.group, stages, plan.log)


def _check_missing(instances: list[RuleInstance], filter_name: str) -> None:
    """Variables no one provides (and list elements of tree constants that do not exist)."""
    missing: list[str] = []
    for inst in instances:
        refs = rule_refs(inst.rule)
        by_name = [r for r in refs if r.name not in inst.env.values]
        constant = [r for r in refs if r.name in inst.env.values and r.name not in inst.env.top]
        for name in missing_refs(by_name + constant, inst.env.values):
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
        per_port = any(ref.name in inst.env.top for ref in refs)
        combos = [] if per_port else combinations(refs, values)
        return build_checks(inst.rule.match, combos, inst.env.top, values, holes_allowed=per_port)
    except InstantiationError as e:
        raise InstantiationError(f"{e} (filter {inst.filter}, rule {inst.number})") from e


def _reverse(checks: tuple[Check, ...]) -> tuple[Check, ...]:
    def swap(op: Operand | None) -> Operand | None:
        if isinstance(op, IPSetRef):
            return IPSetRef(op.name, tuple({"src": "dst", "dst": "src"}[f] for f in op.flags))
        return op

    return tuple(replace(c, field=SWAP.get(c.field, c.field), operand=swap(c.operand)) for c in checks)


# ---- layer 2 (libvirt's ebtables chains) ----------------------------------------------------------------


def _l2_verdict(action: Action) -> ProgramVerdict:
    return ProgramVerdict.DROP if action is Action.REJECT else ProgramVerdict(action.value)


def _l2_stage(
    instances: list[RuleInstance], out: bool, stage: Stage, recipes: dict[tuple[Stage, str, int], Recipe]
) -> tuple[ChainProgram, ...]:
    wanted = (Direction.OUT, Direction.INOUT) if out else (Direction.IN, Direction.INOUT)
    chains: dict[str, list[ChainEntry]] = {"root": []}
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
            checks, recipe = built.checks, built.recipe
            if reverse:
                checks, recipe = _reverse(checks), recipe.reversed() if recipe else None
            rule = ProgramRule(
                _origin(inst, priority),
                _l2_verdict(inst.rule.action),
                _L2_IMPLICIT.get(protocol or "", ()) + checks,
                (),
                built.comment,
            )
            entries = chains.setdefault(inst.chain, [])
            if recipe is not None:
                recipes[(stage, inst.chain, len(entries))] = recipe
            entries.append(rule)
    jumps = [j for j in (_jump(name, prio) for name, prio in chain_priority.items()) if j is not None]
    jumps.sort(key=lambda j: j.priority)
    # jumps only enter the root chain: entries of sub-chains keep their indexes (and recipes)
    root = _merge(chains["root"], jumps, stage, recipes)
    result = [ChainProgram("root", tuple(root), Fallthrough.RETURN)]
    result += [ChainProgram(j.chain, tuple(chains[j.chain]), SUBCHAIN_FALLTHROUGH) for j in jumps]
    return tuple(result)


def _jump(chain: str, priority: int) -> Jump | None:
    for test in SUBCHAIN_PREFIXES:
        if chain.startswith(test.prefix):
            unconditional = test.field is None or test.value is None
            checks = () if unconditional else (Check(test.field, Value(test.value)),)  # type: ignore[arg-type]
            return Jump(chain, checks, priority)
    return None


def _merge(
    rules: list[ChainEntry], jumps: list[Jump], stage: Stage, recipes: dict[tuple[Stage, str, int], Recipe]
) -> list[ChainEntry]:
    """A sub-chain's jump goes before the first root rule whose priority is at least the chain's."""
    out: list[ChainEntry] = []
    pending = list(jumps)
    moved: dict[int, int] = {}
    for index, rule in enumerate(rules):
        assert isinstance(rule, ProgramRule)
        while pending and pending[0].priority <= rule.origin.priority:
            out.append(pending.pop(0))
        moved[index] = len(out)
        out.append(rule)
    for old, new in sorted(moved.items(), reverse=True):  # re-key the root's recipes to their new places
        recipe = recipes.pop((stage, "root", old), None)
        if recipe is not None:
            recipes[(stage, "root", new)] = recipe
    return out + pending


# ---- layer 3/4 (libvirt's iptables chains) ------------------------------------------------------------


def _l3_stage(
    instances: list[RuleInstance], out: bool, stage: Stage, recipes: dict[tuple[Stage, str, int], Recipe]
) -> tuple[ChainProgram, ...]:
    rules: list[ProgramRule] = []
    for inst in instances:
        for rule, recipe in _l3_rules(inst, out):
            if recipe is not None:
                recipes[(stage, "root", len(rules))] = recipe
            rules.append(rule)
    return (ChainProgram("root", tuple(rules)),)


def _l3_rules(inst: RuleInstance, out: bool) -> list[tuple[ProgramRule, Recipe | None]]:
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
    result: list[tuple[ProgramRule, Recipe | None]] = []
    for built in _built(inst):
        checks = tuple(
            c for c in built.checks if not (rule.statematch is False and c.field is Field.CT_STATE)
        )
        recipe = built.recipe
        if reverse:
            had_mac = any(c.field is Field.ETHER_SRC for c in checks)
            kept = tuple(c for c in checks if c.field is not Field.ETHER_SRC)
            if had_mac and not [
                c for c in kept if c.field not in (Field.IPSET, Field.CONNLIMIT, Field.CT_STATE)
            ]:
                continue  # only the protocol would remain: libvirt drops the rule
            checks = _reverse(kept)
            if recipe is not None:
                recipe = recipe.without(Field.ETHER_SRC).reversed()
                if not recipe.holes:
                    recipe = None
        state: list[Check] = []
        if default_state is not None:
            state.append(Check(Field.CT_STATE, default_state))
            if not has_icmp_type:
                state.append(Check(Field.CT_DIRECTION, Value("reply" if reverse else "original")))
        program_rule = ProgramRule(
            _origin(inst), ProgramVerdict(rule.action.value), (*implicit, *state, *checks), (), built.comment
        )
        result.append((program_rule, recipe))
    return result
