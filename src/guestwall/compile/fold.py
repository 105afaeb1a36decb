"""Fold a chain's rule list into lookups, so a packet's cost stops growing with the rules it walks past.

Two rewrites, both exact (first-match semantics and priority order kept; the packet meets the same verdicts
in the same order):

- **merge**: adjacent rules that differ only in the constant one field is compared with, and share the
  verdict, become one rule with an anonymous set (``th dport { 22, 80, 443 } accept``). The values must be
  distinct, so a packet matches at most one of the originals: the merged rule decides where one of them did.
- **dispatch**: a run of consecutive rules that each compare the same field with a constant (at least two
  different values) becomes one verdict map on that field. Rules with different values can never match the
  same packet, so the rules of one value keep their relative order in a small chain of their own (the
  comparison dropped, the map did it) and the others are skipped by the lookup. A packet whose value is not
  in the map, or whose group falls through, continues after the map rule as it continued after the run.
  A group of one bare verdict goes into the map directly. Rules whose verdict means something else one
  chain deeper (``return``, ``goto``) never move; the field's comparison must come before any statement
  with an effect (a ``ct count`` update), so dropping it changes nothing the rule does.

Only one level of dispatch is added per chain (the kernel bounds the depth of jumps).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network

from guestwall.compile.names import short_hash
from guestwall.nft import ir
from guestwall.nft.render import expr as render_expr
from guestwall.nft.render import statements as render_statements

_K = ir.VerdictKind
_MOVABLE = frozenset({_K.ACCEPT, _K.DROP, _K.REJECT, _K.CONTINUE, _K.JUMP})
_IN_MAP = frozenset({_K.ACCEPT, _K.DROP, _K.JUMP})
_KEY_TYPES = (ir.Payload, ir.Meta)  # fields nft can key an anonymous map by without a declaration


@dataclass(frozen=True)
class Folded:
    """A chain's rules after folding, and the small chains its verdict maps jump to (name -> rules)."""

    rules: list[ir.Rule]
    subchains: dict[str, list[ir.Rule]]


def fold(name: str, rules: list[ir.Rule], digest: Callable[[ir.Rule], str]) -> Folded:
    """Chain ``name`` folded; ``digest`` names a rule's content for its comment (see ruleset.rule_digest)."""
    merged = merge(rules, digest)
    out: list[ir.Rule] = []
    subchains: dict[str, list[ir.Rule]] = {}
    i = 0
    while i < len(merged):
        key, end = _best_run(merged, i)
        if key is None:
            out.append(merged[i])
            i += 1
            continue
        run = merged[i:end]
        lead = _leading(key, run)
        if lead and _pays(key, run[lead:]):  # the first value's rules stay in line: no jump for them
            out += run[:lead]
            run = run[lead:]
        out.append(_dispatch(name, len(out), key, run, subchains, digest))
        i = end
    return Folded(out, subchains)


# ---- merge ---------------------------------------------------------------------------------------------


def _scalar_const(e: ir.Expr) -> bool:
    return (
        isinstance(e, ir.Const)
        and not isinstance(e.value, tuple | IPv4Network | IPv6Network)
        and e.style is not ir.Style.IFNAME
    )


def _plain(rule: ir.Rule) -> bool:
    """Matches, then one verdict: nothing that counts, logs or updates a set."""
    *matches, last = rule.statements or (None,)
    return isinstance(last, ir.Verdict) and all(isinstance(s, ir.Match) for s in matches)


def _values(s: ir.Statement) -> tuple[ir.Const, ...] | None:
    if not isinstance(s, ir.Match) or s.negated or not isinstance(s.left, _KEY_TYPES):
        return None
    if _scalar_const(s.right):
        return (s.right,)  # type: ignore[return-value]
    if isinstance(s.right, ir.ConstSet):
        return s.right.items
    return None


def _mergeable(a: ir.Rule, b: ir.Rule) -> int | None:
    """The one statement position in which two plain rules differ (a constant of one field), or None."""
    if not (_plain(a) and _plain(b)) or len(a.statements) != len(b.statements):
        return None
    diff = [i for i, (x, y) in enumerate(zip(a.statements, b.statements, strict=True)) if x != y]
    if len(diff) != 1:
        return None
    x, y = a.statements[diff[0]], b.statements[diff[0]]
    vx, vy = _values(x), _values(y)
    if vx is None or vy is None or x.left != y.left:  # type: ignore[union-attr]
        return None
    if {v.style for v in vx + vy} != {vx[0].style} or set(vx) & set(vy):
        return None
    return diff[0]


def _origin(rule: ir.Rule) -> str:
    return rule.comment.split(" ", 1)[1] if " " in rule.comment else ""


def _commented(stmts: tuple[ir.Statement, ...], origin: str, digest: Callable[[ir.Rule], str]) -> ir.Rule:
    return ir.Rule(stmts, ir.safe_comment(f"{digest(ir.Rule(stmts))} {origin}".rstrip()))


def merge(rules: list[ir.Rule], digest: Callable[[ir.Rule], str]) -> list[ir.Rule]:
    """Adjacent rules differing only in one field's constant, with one verdict, as one set lookup."""
    out: list[ir.Rule] = []
    for rule in rules:
        at = _mergeable(out[-1], rule) if out else None
        if at is None:
            out.append(rule)
            continue
        prev = out[-1]
        both = _values(prev.statements[at]) + _values(rule.statements[at])  # type: ignore[operator]
        match = prev.statements[at]
        assert isinstance(match, ir.Match)
        stmts = (*prev.statements[:at], ir.Match(match.left, ir.ConstSet(both)), *prev.statements[at + 1 :])
        origins = [o for o in (_origin(prev), _origin(rule)) if o]
        out[-1] = _commented(stmts, "+".join(dict.fromkeys("+".join(origins).split("+"))), digest)
    return out


# ---- dispatch ------------------------------------------------------------------------------------------


def _key_of(rule: ir.Rule, key: ir.Expr) -> tuple[int, ir.Const] | None:
    """Where ``rule`` compares ``key`` with one constant, before any statement with an effect; None if it
    does not, or if its verdict cannot move into a chain of its own."""
    last = rule.statements[-1] if rule.statements else None
    if not isinstance(last, ir.Verdict) or last.kind not in _MOVABLE:
        return None
    for i, s in enumerate(rule.statements):
        if not isinstance(s, ir.Match):
            return None
        if s.left == key and not s.negated and _scalar_const(s.right):
            return i, s.right  # type: ignore[return-value]
    return None


def _candidates(rule: ir.Rule) -> list[ir.Expr]:
    return [
        s.left
        for s in rule.statements
        if isinstance(s, ir.Match) and isinstance(s.left, _KEY_TYPES) and _key_of(rule, s.left) is not None
    ]


def _without(rule: ir.Rule, at: int) -> ir.Rule:
    return ir.Rule((*rule.statements[:at], *rule.statements[at + 1 :]))


def _leading(key: ir.Expr, run: list[ir.Rule]) -> int:
    """How many rules at the start of the run compare ``key`` with the first rule's value."""
    first = _key_of(run[0], key)
    count = 0
    while count < len(run) and _key_of(run[count], key) == first:
        count += 1
    return count


def _bare(members: list[ir.Rule]) -> bool:
    """A group that is one verdict a map can hold (no chain of its own needed)."""
    only = members[0].statements
    return (
        len(members) == 1 and len(only) == 1 and isinstance(only[0], ir.Verdict) and only[0].kind in _IN_MAP
    )


def _pays(key: ir.Expr, run: list[ir.Rule]) -> bool:
    """Whether the map walks fewer rules than the run, on average over its values: a packet of a value walks
    the run up to that value's first rule, or does one lookup plus (unless the verdict is in the map) a
    jump."""
    first: dict[ir.Const, int] = {}
    groups: dict[ir.Const, list[ir.Rule]] = {}
    for position, rule in enumerate(run):
        hit = _key_of(rule, key)
        assert hit is not None
        first.setdefault(hit[1], position + 1)
        groups.setdefault(hit[1], []).append(_without(rule, hit[0]))
    if len(groups) < 2:
        return False
    linear = sum(first.values()) / len(first)
    mapped = 1 + sum(not _bare(g) for g in groups.values()) / len(groups)
    return linear >= mapped + 0.5


def _best_run(rules: list[ir.Rule], start: int) -> tuple[ir.Expr | None, int]:
    """The field whose run of constant comparisons from ``start`` is longest and worth a map, and where the
    run ends."""
    best: tuple[ir.Expr | None, int] = (None, start)
    for key in dict.fromkeys(_candidates(rules[start])):
        end = start
        while end < len(rules) and _key_of(rules[end], key) is not None:
            end += 1
        if end > best[1] and _pays(key, rules[start:end]):
            best = (key, end)
    return best


def _dispatch(
    name: str,
    position: int,
    key: ir.Expr,
    run: list[ir.Rule],
    subchains: dict[str, list[ir.Rule]],
    digest: Callable[[ir.Rule], str],
) -> ir.Rule:
    groups: dict[ir.Const, list[ir.Rule]] = {}
    for rule in run:
        hit = _key_of(rule, key)
        assert hit is not None
        at, value = hit
        groups.setdefault(value, []).append(_commented(_without(rule, at).statements, _origin(rule), digest))
    entries: list[tuple[ir.Const, ir.Verdict]] = []
    for value, members in groups.items():
        only = members[0].statements
        if (
            len(members) == 1
            and len(only) == 1
            and isinstance(only[0], ir.Verdict)
            and only[0].kind in _IN_MAP
        ):
            entries.append((value, only[0]))
            continue
        # named by the map's place in the chain and the value: unique in the table, stable across ports
        sub = f"{name}.{short_hash(position, render_expr(key), render_expr(value), length=6)}"
        subchains[sub] = merge(members, digest)
        entries.append((value, ir.Verdict(ir.VerdictKind.JUMP, sub)))
    stmts: tuple[ir.Statement, ...] = (ir.AnonVMap(key, tuple(entries)),)
    return ir.Rule(stmts, ir.safe_comment(f"{digest(ir.Rule(stmts))} guestwall"))


def describe(rules: list[ir.Rule]) -> str:
    """The rules as nft text, one a line (for tests and debugging)."""
    return "\n".join(render_statements(r.statements) for r in rules)
