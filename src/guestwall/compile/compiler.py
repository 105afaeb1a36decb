"""Compile the rule programs of all ports into the desired nftables state (pure: no I/O).

Ports of one group (same filter, same provided variable names) have programs of identical structure, so
each of their chains is emitted once and shared; per-port values become set elements keyed by the port;
verdict maps dispatch each port to its chains, so a packet's cost does not grow with the number of ports.
Where a rule cannot be shared without changing its meaning for a port (a negated variable with several
values, a variable in a field no set can hold), that port gets its own copy of the chain: a fallback,
reported in ``Compiled.fallbacks``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace

from guestwall.compile import names
from guestwall.compile.droplog import LogOptions, LogRule, marked, with_counter, with_log
from guestwall.compile.fold import fold as fold_chain
from guestwall.compile.inline import inline_jumps
from guestwall.compile.matches import constant_match
from guestwall.compile.rules import (
    PortKey,
    Rendered,
    SetUse,
    context_of,
    elements,
    expand,
    private_reasons,
    render,
)
from guestwall.compile.ruleset import BaseHook, ChainSpec, Ruleset, SetSpec, TableSpec, rule_digest
from guestwall.instantiate.fields import Field
from guestwall.instantiate.program import (
    ChainProgram,
    Fallthrough,
    IPSetRef,
    Jump,
    PortProgram,
    ProgramRule,
    Stage,
)
from guestwall.model import AddressSet
from guestwall.nft import ir
from guestwall.nft.datatypes import DataType

_L2 = (Stage.L2_OUT, Stage.L2_IN)
_KEYS = {
    Stage.L2_OUT: PortKey(ir.Meta("iifname"), DataType.IFNAME),
    Stage.L2_IN: PortKey(ir.Meta("oifname"), DataType.IFNAME),
    Stage.L3_OUT: PortKey(ir.Meta("mark"), DataType.MARK),
    Stage.L3_IN: PortKey(ir.Meta("mark"), DataType.MARK),
}
_DISPATCH = {
    Stage.L2_OUT: names.L2_OUT_MAP,
    Stage.L2_IN: names.L2_IN_MAP,
    Stage.L3_OUT: names.L3_OUT_MAP,
    Stage.L3_IN: names.L3_IN_MAP,
}


@dataclass(frozen=True)
class PortInput:
    program: PortProgram
    port_id: int


@dataclass(frozen=True)
class Options:
    """Host-wide settings: interface name patterns of guest ports (e.g. ``vnet*``) that have no binding
    are dropped (fail closed) instead of passing unfiltered."""

    guest_patterns: tuple[str, ...] = ()
    # False compiles every port into chains of its own, libvirt-style (a baseline for benchmarks)
    share: bool = True
    log: LogOptions = field(default_factory=LogOptions)  # logged ports' group and rate limit (droplog)
    counters: bool = False  # a counter in every filter rule (per rule, summed over the ports sharing it)
    fold: bool = True  # rule runs folded into verdict maps and set lookups (compile.fold); shared chains only


@dataclass
class Compiled:
    ruleset: Ruleset
    fallbacks: dict[str, list[str]] = field(default_factory=dict)
    log_rules: dict[str, LogRule] = field(default_factory=dict)  # logged rules by the id in their prefix


def compile_ruleset(
    ports: Sequence[PortInput],
    options: Options = Options(),
    address_sets: Mapping[str, AddressSet] | None = None,
) -> Compiled:
    """The desired state for these ports; ``address_sets`` are the sets that ``ipset`` attributes name."""
    ruleset = skeleton(options)
    out = Compiled(ruleset)
    state = _State(
        ruleset,
        address_sets or {},
        options.share,
        options.log,
        options.counters,
        options.fold and options.share,
    )
    for port in sorted(ports, key=lambda p: p.program.portdev):
        _compile_port(port, state, out.fallbacks)
    if state.fold:
        for table in ruleset.tables.values():
            inline_jumps(table.chains, rule_digest)
    out.log_rules = state.log_rules
    return out


@dataclass
class _State:
    """What compiling one ruleset accumulates: shared chains already rendered (once, whoever uses them)."""

    ruleset: Ruleset
    address_sets: Mapping[str, AddressSet]
    share: bool = True
    log: LogOptions = field(default_factory=LogOptions)
    counters: bool = False
    fold: bool = True
    log_rules: dict[str, LogRule] = field(default_factory=dict)
    stages: dict[tuple[str, Stage], _StageInfo] = field(default_factory=dict)
    rendered: dict[str, list[Rendered]] = field(default_factory=dict)  # shared chain name -> its rules
    uses: dict[str, list[tuple[int, tuple[SetUse, ...]]]] = field(default_factory=dict)  # ... -> set lookups


def skeleton(options: Options) -> Ruleset:
    """Our two tables with their base chains, dispatch maps and fixed rules, but no ports."""
    bridge = TableSpec(names.BRIDGE, names.TABLE)
    inet = TableSpec(names.INET, names.TABLE)
    tables = {names.BRIDGE: bridge, names.INET: inet}
    for family, name, hook, prio in names.BASE_CHAINS:
        tables[family].chains[name] = ChainSpec(name, [], BaseHook(hook, prio))
    by_name, by_mark, verdict = (DataType.IFNAME,), (DataType.MARK,), DataType.VERDICT
    bridge.sets[names.L2_OUT_MAP] = SetSpec(names.L2_OUT_MAP, by_name, map_type=verdict)
    bridge.sets[names.L2_IN_MAP] = SetSpec(names.L2_IN_MAP, by_name, map_type=verdict)
    bridge.sets[names.PORT_MARK_MAP] = SetSpec(names.PORT_MARK_MAP, by_name, map_type=DataType.MARK)
    inet.sets[names.L3_OUT_MAP] = SetSpec(names.L3_OUT_MAP, by_mark, map_type=verdict)
    inet.sets[names.L3_IN_MAP] = SetSpec(names.L3_IN_MAP, by_mark, map_type=verdict)
    iif, oif, mark = ir.Meta("iifname"), ir.Meta("oifname"), ir.Meta("mark")
    drop = ir.Verdict(ir.VerdictKind.DROP)
    patterns = [ir.Const(p, ir.Style.IFNAME) for p in options.guest_patterns]
    fail_closed_in = [_fixed(ir.Match(iif, p), drop) for p in patterns]
    fail_closed_out = [_fixed(ir.Match(oif, p), drop) for p in patterns]
    bridge.chains["pre"].rules = [
        _fixed(ir.SetMark(iif, names.PORT_MARK_MAP)),
        _fixed(ir.VMap(iif, names.L2_OUT_MAP)),
        *fail_closed_in,
    ]
    tag = ir.Masked(mark, ir.Const(names.MARK_TAG_MASK, ir.Style.HEX))
    bridge.chains["forward"].rules = [
        _fixed(ir.Match(tag, ir.Const(names.MARK_TAG, ir.Style.HEX)), ir.SetMark(ir.Const(0, ir.Style.HEX))),
        _fixed(ir.SetMark(oif, names.PORT_MARK_MAP)),
    ]
    bridge.chains["post"].rules = [_fixed(ir.VMap(oif, names.L2_IN_MAP)), *fail_closed_out]
    inet.chains["pre"].rules = [_fixed(ir.VMap(mark, names.L3_OUT_MAP))]
    inet.chains["forward"].rules = [_fixed(ir.VMap(mark, names.L3_IN_MAP))]
    return Ruleset(tables)


def _fixed(*stmts: ir.Statement) -> ir.Rule:
    rule = ir.Rule(tuple(stmts))
    return ir.Rule(rule.statements, f"{rule_digest(rule)} guestwall")


def _table(ruleset: Ruleset, stage: Stage) -> TableSpec:
    return ruleset.table(names.BRIDGE if stage in _L2 else names.INET)


def _port_value(stage: Stage, port: PortInput) -> object:
    return port.program.portdev if stage in _L2 else names.port_mark(port.port_id)


@dataclass
class _StageInfo:
    """What every port of a group shares in one stage (their structure is identical by construction)."""

    static: dict[str, list[str]]  # chain -> reasons it cannot be shared, whatever the values
    negated: dict[str, list[int]]  # chain -> entries with negated holes (private if a port has several rows)
    shared: dict[str, str]  # chain -> shared chain name
    # When no chain can be private whatever a port's values, every port of the group goes the same way:
    # after the first, a port only adds its elements, (chain index, entry index, set use) in this order.
    uses: list[tuple[int, int, SetUse]] | None = None

    @property
    def always_shared(self) -> bool:
        return not any(self.static.values()) and not any(self.negated.values())


def _analyze(program: PortProgram, stage: Stage, chains: tuple[ChainProgram, ...]) -> _StageInfo:
    l3 = stage not in _L2
    static: dict[str, list[str]] = {}
    negated: dict[str, list[int]] = {}
    for chain in chains:
        static[chain.name] = []
        negated[chain.name] = []
        for i, entry in enumerate(chain.entries):
            if not isinstance(entry, ProgramRule) or not entry.holes:
                continue
            single = ProgramRule(entry.origin, entry.verdict, entry.checks, entry.rows[:1])
            static[chain.name] += private_reasons(single, context_of(entry.checks, l3))
            if any(h.negated for h in entry.holes):
                negated[chain.name].append(i)
    shared = {c.name: names.shared_chain(program.group, stage.value, c.name) for c in chains}
    return _StageInfo(static, negated, shared)


def _compile_port(port: PortInput, state: _State, fallbacks: dict[str, list[str]]) -> None:
    program = port.program
    ruleset = state.ruleset
    bridge = ruleset.table(names.BRIDGE)
    bridge.sets[names.PORT_MARK_MAP].elements[(program.portdev,)] = names.port_mark(port.port_id)
    for stage in Stage:
        chains = program.chains(stage) or (ChainProgram("root"),)
        table = _table(ruleset, stage)
        key_value = _port_value(stage, port)
        info = state.stages.get((program.group, stage))
        if info is None:
            info = state.stages[(program.group, stage)] = _analyze(program, stage, chains)
        elif info.uses is not None:
            _add_elements(info.uses, chains, table, key_value)
            table.sets[_DISPATCH[stage]].elements[(key_value,)] = ("goto", info.shared["root"])
            continue
        reasons = {c.name: list(info.static[c.name]) for c in chains}
        for chain in chains:
            for i in info.negated[chain.name]:
                rule = chain.entries[i]
                assert isinstance(rule, ProgramRule)
                if len(rule.rows) > 1:
                    reasons[chain.name].append(
                        f"negated variable in {rule.origin} with {len(rule.rows)} values"
                    )
        private = {name for name, why in reasons.items() if why}
        if not state.share:
            private = {c.name for c in chains}
        elif private:
            private.add("root")
            fallbacks.setdefault(program.portdev, []).extend(
                f"{stage.value} chain {name}: {why}" for name, whys in reasons.items() for why in whys
            )
        chain_names = {
            c.name: names.private_chain(program.group, stage.value, c.name, program.portdev)
            if c.name in private
            else info.shared[c.name]
            for c in chains
        }
        kept: list[tuple[int, int, SetUse]] = []  # the sets this port's shared chains look up
        for c, chain in enumerate(chains):
            name = chain_names[chain.name]
            rendered = state.rendered.get(name)
            if rendered is None:
                is_private = chain.name in private
                if is_private:
                    rendered = _render_chain(chain, stage, table, name, chain_names, True, state, program.log)
                    _add_chain(table, name, [r.rule for r in rendered], state.fold)
                else:
                    rendered = _shared_chain(chain, stage, table, name, chain_names, state, program.log)
                if not is_private:
                    state.rendered[name] = rendered
                    # a shared chain renders one rule per entry, in order: index i is entry i
                    state.uses[name] = [(i, r.uses) for i, r in enumerate(rendered) if r.uses]
            if chain.name not in private:  # private chains hold their values as constants
                kept += [(c, i, use) for i, uses in state.uses[name] for use in uses]
        _add_elements(kept, chains, table, key_value)
        table.sets[_DISPATCH[stage]].elements[(key_value,)] = ("goto", chain_names["root"])
        if state.share and info.always_shared:
            info.uses = kept


def _add_elements(
    uses: list[tuple[int, int, SetUse]], chains: tuple[ChainProgram, ...], table: TableSpec, key_value: object
) -> None:
    """A port's elements in the sets its group's shared chains look up."""
    for c, i, use in uses:
        rule = chains[c].entries[i]
        assert isinstance(rule, ProgramRule)
        target = table.sets[use.set_name].elements
        for elem in elements(use, key_value, rule.rows):
            target[elem] = None


@dataclass(frozen=True)
class _SharedChain:
    """A shared chain rendered and folded, with what rendering it declared: remembered across compiles."""

    rendered: tuple[Rendered, ...]
    sets: tuple[SetSpec, ...]  # the sets its rules look up, as declared (no element): copied when used
    log_chains: tuple[tuple[str, tuple[ir.Rule, ...]], ...]  # the small chains its logged rules jump to
    chains: tuple[tuple[str, tuple[ir.Rule, ...]], ...]  # the chain (folded) and the chains folding made
    log_rules: tuple[tuple[str, LogRule], ...]


# Shared chains by value: each port added alone (and each group a filter edit plans) compiles its group's
# chains again; their rendering and folding depend only on the key below, never on a port's values (those
# are set elements). An edited filter is another key, never a stale hit. Bounded, least recently used out.
_shared: OrderedDict[Hashable, _SharedChain] = OrderedDict()
SHARED_MEMO_SIZE = 512
_KEYED_NETWORKS = 64  # address sets up to this size are part of a shared chain's key


def clear_memo() -> None:
    """Forget the remembered shared chains (tests that count what is computed)."""
    _shared.clear()


def _shared_key(
    chain: ChainProgram, stage: Stage, name: str, chain_names: dict[str, str], state: _State, log_mode: str
) -> Hashable | None:
    """Everything rendering a shared chain reads (its rules without the port's rows, the chains it jumps
    to, the options, the address sets its ``ipset`` checks name); None when those sets are large (their
    elements would be hashed for every lookup: the incremental paths compile with them hollow)."""
    entries: list[object] = []
    sets: dict[str, AddressSet | None] = {}
    for entry in chain.entries:
        if isinstance(entry, ProgramRule):
            for check in entry.checks:
                if check.field is Field.IPSET and isinstance(check.operand, IPSetRef):
                    aset = state.address_sets.get(check.operand.name)
                    if aset is not None and len(aset.networks) > _KEYED_NETWORKS:
                        return None
                    sets[check.operand.name] = aset
            entries.append((entry.origin, entry.verdict, entry.checks, entry.comment))
        else:
            entries.append(entry)
    jumps = tuple(sorted(chain_names.items()))
    return (name, stage, chain.name, chain.fallthrough, tuple(entries), jumps, state.counters, state.fold,
            log_mode, state.log, tuple(sorted(sets.items())))  # fmt: skip


def _shared_chain(
    chain: ChainProgram,
    stage: Stage,
    table: TableSpec,
    name: str,
    chain_names: dict[str, str],
    state: _State,
    log_mode: str,
) -> list[Rendered]:
    """A shared chain into ``table`` (with its sets, folded chains and log chains): remembered by value."""
    key = _shared_key(chain, stage, name, chain_names, state, log_mode)
    if key is None:
        rendered = _render_chain(chain, stage, table, name, chain_names, False, state, log_mode)
        _add_chain(table, name, [r.rule for r in rendered], state.fold)
        return rendered
    done = _shared.get(key)
    if done is None:
        done = _shared[key] = _render_shared(chain, stage, table, name, chain_names, state, log_mode)
        if len(_shared) > SHARED_MEMO_SIZE:
            with suppress(KeyError):
                _shared.popitem(last=False)
    else:
        with suppress(KeyError):  # another thread's eviction
            _shared.move_to_end(key)
    # what rendering into ``table`` itself would have left there, in the same order
    for spec in done.sets:
        if spec.name not in table.sets:
            table.sets[spec.name] = replace(spec, elements=dict(spec.elements))
    for log_name, rules in done.log_chains:
        if log_name not in table.chains:
            table.chains[log_name] = ChainSpec(log_name, list(rules))
    for chain_name, rules in done.chains:
        table.chains[chain_name] = ChainSpec(chain_name, list(rules))
    state.log_rules.update(done.log_rules)
    return list(done.rendered)


def _render_shared(
    chain: ChainProgram,
    stage: Stage,
    table: TableSpec,
    name: str,
    chain_names: dict[str, str],
    state: _State,
    log_mode: str,
) -> _SharedChain:
    """Render and fold a shared chain into an empty table: every set and chain it needs lands there."""
    scratch = TableSpec(table.family, table.name)
    alone = replace(state, log_rules={})
    rendered = _render_chain(chain, stage, scratch, name, chain_names, False, alone, log_mode)
    log_chains = tuple((n, tuple(c.rules)) for n, c in scratch.chains.items())
    scratch.chains = {}
    _add_chain(scratch, name, [r.rule for r in rendered], state.fold)
    return _SharedChain(
        tuple(rendered),
        tuple(scratch.sets.values()),
        log_chains,
        tuple((n, tuple(c.rules)) for n, c in scratch.chains.items()),
        tuple(alone.log_rules.items()),
    )


def _add_chain(table: TableSpec, name: str, rules: list[ir.Rule], fold: bool) -> None:
    """A rendered chain into its table: folded into lookups (with the small chains they jump to) or as is."""
    if not fold:
        table.chains[name] = ChainSpec(name, rules)
        return
    folded = fold_chain(name, rules, rule_digest)
    table.chains[name] = ChainSpec(name, folded.rules)
    for sub, sub_rules in folded.subchains.items():
        table.chains[sub] = ChainSpec(sub, sub_rules)


def _render_chain(
    chain: ChainProgram,
    stage: Stage,
    table: TableSpec,
    name: str,
    chain_names: dict[str, str],
    private: bool,
    state: _State,
    log_mode: str = "",
) -> list[Rendered]:
    key = _KEYS[stage]
    l3 = stage not in _L2
    out: list[Rendered] = []
    for entry in chain.entries:
        if isinstance(entry, Jump):
            ctx = context_of(entry.checks, l3)
            stmts = [constant_match(c, ctx) for c in entry.checks]
            rule = _fixed(*stmts, ir.Verdict(ir.VerdictKind.JUMP, chain_names[entry.chain]))
            out.append(Rendered(rule))
            continue
        for program_rule in expand(entry) if private else [entry]:
            ctx = context_of(program_rule.checks, l3)
            rendered = render(program_rule, ctx, key, table, name, state.address_sets)
            if state.counters:
                rendered = with_counter(rendered)
            if log_mode or marked(program_rule):
                rendered = with_log(
                    rendered, program_rule, stage, table, name, len(out), log_mode, state.log, state.log_rules
                )
            out.append(rendered)
    if chain.fallthrough is Fallthrough.ACCEPT:
        out.append(Rendered(_fixed(ir.Verdict(ir.VerdictKind.ACCEPT))))
    return out
