"""One program rule -> one nft rule. Holes (per-port values) become lookups in concatenated sets keyed by
the port, so the rule itself is shared by every port; each port contributes set elements.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from guestwall.compile import canon, names
from guestwall.compile.matches import Context, Kind, constant_match, stp_prefix, target
from guestwall.compile.ruleset import SetSpec, TableSpec, rule_digest
from guestwall.errors import InstantiationError
from guestwall.instantiate.fields import Field
from guestwall.instantiate.program import Check, IPSetRef, Operand, ProgramRule, ProgramVerdict, Value
from guestwall.model import AddressSet
from guestwall.nft import ir
from guestwall.nft.datatypes import DataType, address_type
from guestwall.nft.render import expr as render_expr

_NOT_SETTABLE = (Kind.STATES, Kind.FLAGS, Kind.NAME)


@dataclass(frozen=True)
class PortKey:
    """How a table tells ports apart: by interface name (bridge) or by our packet mark (inet)."""

    expr: ir.Expr
    type_name: DataType  # IFNAME or MARK


@dataclass(frozen=True)
class SetUse:
    """A rule looks up ``set_name`` with (port, row[i] for i in holes): each port adds those elements."""

    set_name: str
    holes: tuple[int, ...]
    kinds: tuple[Kind, ...]
    type_names: tuple[DataType, ...]


# Fields compiled to a statement of their own (``ct count over``, a lookup in an address set), not through
# matches.target: every other field of the program goes through target or is refused there (UNSUPPORTED).
OWN_STATEMENT = frozenset({Field.CONNLIMIT, Field.IPSET})


@dataclass(frozen=True)
class Rendered:
    rule: ir.Rule
    uses: tuple[SetUse, ...] = ()


def context_of(rule_checks: tuple[Check, ...], l3: bool) -> Context:
    family = None
    rarp = False
    for c in rule_checks:
        if c.field is Field.NFPROTO and isinstance(c.operand, Value):
            family = int(c.operand.value)  # type: ignore[arg-type]
        if c.field is Field.ETHER_TYPE and isinstance(c.operand, Value) and not c.negated:
            if c.operand.value == 0x86DD:
                family = 6
            elif c.operand.value == 0x0800:
                family = 4
            elif c.operand.value == 0x8035:
                rarp = True
    return Context(l3=l3, family=family, rarp=rarp)


def private_reasons(rule: ProgramRule, ctx: Context) -> list[str]:
    """Why this rule, with these per-port values, cannot be one shared rule (empty if it can)."""
    reasons = []
    for check in rule.holes:
        if check.field in OWN_STATEMENT:
            reasons.append(f"variable in {check.field.value}")
            continue
        if target(check.field, ctx).kind in _NOT_SETTABLE:
            reasons.append(f"variable in {check.field.value}")
        elif check.negated and len(rule.rows) > 1:
            reasons.append(f"negated {check.field.value} with {len(rule.rows)} values")
    return reasons


def expand(rule: ProgramRule) -> list[ProgramRule]:
    """libvirt's own expansion: one constant rule per combination of values (for per-port chains)."""
    if not rule.holes:
        return [rule]
    out = []
    for row in rule.rows:
        values = iter(row)
        checks = tuple(replace(c, operand=next(values), hole=None) if c.is_hole else c for c in rule.checks)
        out.append(ProgramRule(rule.origin, rule.verdict, checks, (), rule.comment))
    return out


def _verdict(verdict: ProgramVerdict) -> ir.Verdict:
    return ir.Verdict(ir.VerdictKind(verdict.value))


def _set_for(table: TableSpec, key: PortKey, holes: list[Check], ctx: Context) -> SetUse:
    targets = [target(h.field, ctx) for h in holes]
    type_names = [key.type_name] + [t.set_type or DataType.INTEGER for t in targets]
    needs_typeof = any(t.set_type is None for t in targets)
    interval = any(h.hole is not None and h.hole.is_interval for h in holes)
    # sets are named by what their values are, so every rule needing the same values shares one set
    identity = (
        key.type_name.value,  # the set's name is a hash of this text: plain strings keep it stable
        tuple(
            (t.kind.value, render_expr(t.expr) if needs_typeof else "", h.hole.key if h.hole else "")
            for t, h in zip(targets, holes, strict=True)
        ),
    )
    hint = "-".join(t.kind.value.replace("_addr", "").replace("inet_", "") for t in targets)
    name = names.value_set(hint, repr(identity))
    if name not in table.sets:
        table.sets[name] = SetSpec(
            name,
            tuple(type_names),
            (key.expr, *(t.expr for t in targets)) if needs_typeof else None,
            ("interval",) if interval else (),
        )
    return SetUse(name, (), tuple(t.kind for t in targets), tuple(type_names[1:]))


def render(
    rule: ProgramRule,
    ctx: Context,
    key: PortKey,
    table: TableSpec,
    scope: str,
    address_sets: Mapping[str, AddressSet],
) -> Rendered:
    """The nft rule for a program rule; ``scope`` names the chain (for per-rule dynamic sets)."""
    _refuse_conflicts(rule, ctx)
    stmts: list[ir.Statement] = list(stp_prefix(rule.checks))
    uses: list[SetUse] = []
    hole_index = {id(c): i for i, c in enumerate(rule.holes)}
    positive = [c for c in rule.holes if not c.negated]
    for check in rule.checks:
        if check.is_hole:
            continue
        if check.field is Field.CONNLIMIT:
            stmts.append(_connlimit(check, ctx, key, table, scope, rule))
        elif check.field is Field.IPSET:
            stmts.append(_ipset(check, ctx, table, address_sets, rule))
        else:
            stmts.append(constant_match(check, ctx))
    if positive:
        use = _set_for(table, key, positive, ctx)
        use = replace(use, holes=tuple(hole_index[id(c)] for c in positive))
        uses.append(use)
        exprs = [key.expr, *(target(c.field, ctx).expr for c in positive)]
        stmts.append(ir.Match(ir.Concat(tuple(exprs)), ir.SetRef(use.set_name)))
    for check in rule.holes:
        if check.negated:
            use = replace(_set_for(table, key, [check], ctx), holes=(hole_index[id(check)],))
            uses.append(use)
            expr = ir.Concat((key.expr, target(check.field, ctx).expr))
            stmts.append(ir.Match(expr, ir.SetRef(use.set_name), negated=True))
    stmts.append(_verdict(rule.verdict))
    nft_rule = ir.Rule(tuple(stmts))
    comment = ir.safe_comment(f"{rule_digest(nft_rule)} {rule.origin.filter}#{rule.origin.rule}")
    return Rendered(ir.Rule(tuple(stmts), comment), tuple(uses))


def _refuse_conflicts(rule: ProgramRule, ctx: Context) -> None:
    """ICMP type/code with another protocol: libvirt's ebtables refuses it; nft finds the protocols in
    conflict. Refuse it with the reason rather than let the kernel fail the whole transaction."""
    fields = {c.field: c for c in rule.checks}
    proto = fields.get(Field.IP_PROTO)
    if (Field.ICMP_TYPE in fields or Field.ICMP_CODE in fields) and not ctx.l3 and proto is not None:
        icmp = 58 if ctx.family == 6 else 1
        if proto.negated or proto.operand != Value(icmp):
            raise InstantiationError(
                f"{rule.origin}: an ICMP type or code cannot be enforced together with another protocol"
            )


def _connlimit(
    check: Check, ctx: Context, key: PortKey, table: TableSpec, scope: str, rule: ProgramRule
) -> ir.Statement:
    assert isinstance(check.operand, Value)
    src = ir.Payload("ip6" if ctx.family == 6 else "ip", "saddr")
    name = names.connlimit_set(f"{scope}|{rule.origin}|{rule.checks}")
    if name not in table.sets:
        table.sets[name] = SetSpec(name, (key.type_name, address_type(ctx.family or 4)), None, ("dynamic",))
    return ir.CtCountOver(name, ir.Concat((key.expr, src)), int(check.operand.value))  # type: ignore[arg-type]


def _ipset(
    check: Check, ctx: Context, table: TableSpec, address_sets: Mapping[str, AddressSet], rule: ProgramRule
) -> ir.Statement:
    """``ipset='NAME' ipsetflags='src'``: the address (source or destination) is in the named address set."""
    op = check.operand
    assert isinstance(op, IPSetRef)
    aset = address_sets.get(op.name)
    if aset is None:
        raise InstantiationError(f"ipset '{op.name}' does not exist ({rule.origin})")
    if len(op.flags) != 1:
        raise InstantiationError(
            f"ipset '{op.name}': only one-dimensional address sets are supported ({rule.origin})"
        )
    family = ctx.family or 4
    name = names.ipset_set(op.name, f"v{family}")
    if name not in table.sets:
        spec = SetSpec(name, (address_type(family),), None, ("interval",))
        for net in aset.of_family(family):
            spec.elements[(canon.network(net),)] = None
        table.sets[name] = spec
    field = {
        (4, "src"): Field.IP4_SRC,
        (4, "dst"): Field.IP4_DST,
        (6, "src"): Field.IP6_SRC,
        (6, "dst"): Field.IP6_DST,
    }
    expr = target(field[(family, op.flags[0])], ctx).expr
    return ir.Match(expr, ir.SetRef(name), check.negated)


def elements(
    use: SetUse, port_value: object, rows: tuple[tuple[Operand, ...], ...]
) -> list[tuple[object, ...]]:
    """The canonical elements one port contributes to a set it uses."""
    if len(rows) == 1 and len(use.holes) == 1:  # most ports: one value looked up alone
        return [(port_value, canon.from_operand(rows[0][use.holes[0]], use.kinds[0]))]
    out = []
    for row in rows:
        values = (canon.from_operand(row[i], k) for i, k in zip(use.holes, use.kinds, strict=True))
        out.append((port_value, *values))
    return canon.merged(out) if len(out) > 1 else out
