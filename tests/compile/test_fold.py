"""compile.fold: rule runs folded into set lookups and verdict maps keep every packet's outcome.

The differential test runs random chains (random fields, values, negations and verdicts, including
``return``, ``continue`` and jumps to chains that record each visit) before and after folding, on every
packet of a small domain, through a tiny interpreter of nftables semantics: the verdict and the sequence of
jumps taken must be the same.
"""

from __future__ import annotations

import random

from guestwall.compile.fold import describe, fold
from guestwall.compile.ruleset import rule_digest
from guestwall.nft import ir

ETHER = ir.Payload("ether", "type")
PROTO = ir.Meta("l4proto")
DPORT = ir.Payload("th", "dport")
DOMAIN = {ETHER: (0x0800, 0x0806, 0x86DD), PROTO: (6, 17, 1), DPORT: (22, 80, 53)}
STYLE = {ETHER: ir.Style.ETHERTYPE, PROTO: ir.Style.PLAIN, DPORT: ir.Style.PLAIN}
V = ir.VerdictKind


def const(field: ir.Expr, value: int) -> ir.Const:
    return ir.Const(value, STYLE[field])


def rule(*stmts: ir.Statement, origin: str = "f#1") -> ir.Rule:
    r = ir.Rule(tuple(stmts))
    return ir.Rule(r.statements, f"{rule_digest(r)} {origin}")


def match(field: ir.Expr, value: int, negated: bool = False) -> ir.Match:
    return ir.Match(field, const(field, value), negated)


# ---- a tiny interpreter of the statements fold produces ------------------------------------------------------


def _holds(m: ir.Match, packet: dict[ir.Expr, int]) -> bool:
    value = packet[m.left]
    if isinstance(m.right, ir.ConstSet):
        hit = value in {c.value for c in m.right.items}
    else:
        assert isinstance(m.right, ir.Const)
        hit = value == m.right.value
    return hit != m.negated


def run(
    chains: dict[str, list[ir.Rule]], name: str, packet: dict[ir.Expr, int], trace: list[str]
) -> str | None:
    """The chain's verdict for the packet (None: it returned or fell through); jumps are recorded."""
    for r in chains[name]:
        verdict: ir.Verdict | None = None
        for s in r.statements:
            if isinstance(s, ir.Match):
                if not _holds(s, packet):
                    break
            elif isinstance(s, ir.AnonVMap):
                verdict = next((v for k, v in s.entries if k.value == packet[s.key]), None)
                if verdict is None:
                    break
            elif isinstance(s, ir.Verdict):
                verdict = s
        else:
            if verdict is None or verdict.kind is V.CONTINUE:
                continue
            if verdict.kind is V.RETURN:
                return None
            if verdict.kind is V.JUMP:
                assert verdict.target is not None
                trace.append(verdict.target)
                outcome = run(chains, verdict.target, packet, trace)
                if outcome is not None:
                    return outcome
                continue
            return verdict.kind.value
    return None


def outcomes(chains: dict[str, list[ir.Rule]]) -> list[tuple[str | None, list[str]]]:
    out = []
    for e in DOMAIN[ETHER]:
        for p in DOMAIN[PROTO]:
            for d in DOMAIN[DPORT]:
                trace: list[str] = []
                out.append((run(chains, "c", {ETHER: e, PROTO: p, DPORT: d}, trace), trace))
    return out


def leaf_jumps(trace: list[str]) -> list[str]:
    return [t for t in trace if t.startswith("leaf")]


def random_chain(rng: random.Random) -> list[ir.Rule]:
    fields = list(DOMAIN)
    verdicts = [V.ACCEPT, V.DROP, V.REJECT, V.RETURN, V.CONTINUE, V.JUMP, V.JUMP]
    rules = []
    keyed = rng.choice(fields) if rng.random() < 0.6 else None  # most rules compare one field: runs
    for i in range(rng.randint(1, 12)):
        stmts: list[ir.Statement] = []
        chosen = rng.sample(fields, rng.choice((0, 1, 1, 2, 2, 3)))
        if keyed is not None and rng.random() < 0.85:
            chosen = [keyed, *(f for f in chosen if f != keyed)]
            rng.shuffle(chosen)
        for field in chosen:
            stmts.append(match(field, rng.choice(DOMAIN[field]), negated=rng.random() < 0.15))
        kind = rng.choice(verdicts)
        stmts.append(ir.Verdict(kind, rng.choice(("leafa", "leafb")) if kind is V.JUMP else None))
        if (
            rules and len(rules[-1].statements) > 1 and rng.random() < 0.3
        ):  # the previous rule, one value changed
            stmts = list(rules[-1].statements)
            at = rng.randrange(len(stmts) - 1)
            m = stmts[at]
            assert isinstance(m, ir.Match)
            stmts[at] = match(m.left, rng.choice(DOMAIN[m.left]), m.negated)
        rules.append(rule(*stmts, origin=f"f#{i}"))
    return rules


def test_random_chains_keep_every_packets_outcome() -> None:
    rng = random.Random(20261206)
    merged = dispatched = 0
    for _ in range(3000):
        rules = random_chain(rng)
        leaves = {"leafa": [rule(ir.Verdict(V.CONTINUE))], "leafb": []}
        before = outcomes({"c": rules, **leaves})
        result = fold("c", rules, rule_digest)
        chains = {"c": result.rules, **result.subchains, **leaves}
        after = outcomes(chains)
        assert [(v, leaf_jumps(t)) for v, t in after] == [(v, leaf_jumps(t)) for v, t in before], describe(
            rules
        )
        dispatched += bool(result.subchains) or any(
            isinstance(s, ir.AnonVMap) for r in result.rules for s in r.statements
        )
        merged += any(
            isinstance(s, ir.Match) and isinstance(s.right, ir.ConstSet)
            for body in chains.values()
            for r in body
            for s in r.statements
        )
    assert merged > 500 and dispatched > 200, (merged, dispatched)  # the generator does produce foldable runs


def test_ports_of_one_protocol_merge_into_one_set() -> None:
    rules = [rule(match(PROTO, 6), match(DPORT, p), ir.Verdict(V.ACCEPT)) for p in (22, 80, 53)]
    got = fold("c", rules, rule_digest)
    assert describe(got.rules) == "meta l4proto 6 th dport { 22, 80, 53 } accept"
    assert got.rules[0].comment.endswith(" f#1")  # all three had the origin f#1


def merged_sets(rules: list[ir.Rule]) -> int:
    folded = fold("c", rules, rule_digest)
    bodies = [folded.rules, *folded.subchains.values()]
    return sum(
        isinstance(s, ir.Match) and isinstance(s.right, ir.ConstSet)
        for b in bodies
        for r in b
        for s in r.statements
    )


def test_other_verdicts_repeated_values_and_counters_do_not_merge() -> None:
    accept, drop = ir.Verdict(V.ACCEPT), ir.Verdict(V.DROP)
    assert merged_sets([rule(match(DPORT, 22), accept), rule(match(DPORT, 80), drop)]) == 0
    twice = [rule(match(DPORT, 22), ir.Verdict(V.JUMP, "x")), rule(match(DPORT, 22), ir.Verdict(V.JUMP, "x"))]
    assert fold("c", twice, rule_digest).rules == twice  # a packet jumps twice there
    counted = [rule(match(DPORT, p), ir.Counter(), accept) for p in (22, 80, 53)]
    assert fold("c", counted, rule_digest).rules == counted  # per-rule counters stay per rule


def test_a_run_on_one_field_becomes_a_verdict_map() -> None:
    rules = [
        rule(match(ETHER, 0x0800), ir.Verdict(V.JUMP, "ipv4")),
        rule(match(ETHER, 0x0800), ir.Verdict(V.ACCEPT)),
        rule(match(ETHER, 0x0806), ir.Verdict(V.JUMP, "arp1")),
        rule(match(ETHER, 0x0806), ir.Verdict(V.JUMP, "arp2")),
        rule(match(ETHER, 0x0806), ir.Verdict(V.ACCEPT)),
        rule(match(ETHER, 0x8035), ir.Verdict(V.JUMP, "rarp")),
        rule(match(ETHER, 0x0835), ir.Verdict(V.ACCEPT)),
        rule(ir.Verdict(V.DROP)),
    ]
    got = fold("c", rules, rule_digest)
    (sub,) = got.subchains
    assert describe(got.rules).splitlines() == [
        "ether type 0x0800 jump ipv4",  # the first value's rules stay in line: no extra jump for IPv4
        "ether type 0x0800 accept",
        f"ether type vmap {{ 0x0806 : jump {sub}, 0x8035 : jump rarp, 0x0835 : accept }}",
        "drop",
    ]
    assert describe(got.subchains[sub]).splitlines() == ["jump arp1", "jump arp2", "accept"]


def test_return_and_effects_before_the_key_stay_in_place() -> None:
    values = ((0x0800, 6), (0x0806, 17), (0x86DD, 1), (0x8035, 6))  # two fields differ: no merge
    returning = [rule(match(ETHER, v), match(PROTO, p), ir.Verdict(V.RETURN)) for v, p in values]
    assert fold("c", returning, rule_digest).rules == returning
    limited = [
        rule(ir.CtCountOver("cl", PROTO, 3), match(ETHER, v), ir.Verdict(V.JUMP, f"x{v}"))
        for v in (0x0800, 0x0806, 0x86DD, 0x8035)
    ]
    assert fold("c", limited, rule_digest).rules == limited
