"""Log statements for the rules of logged ports (the drop log): pure, part of the compiler.

A port whose binding has ``GUESTWALL_LOG`` is in a group of its own (instantiate), so its shared chains can
carry log statements without touching other ports. Each logged rule keeps its matches and set lookups and
jumps, instead of its verdict, to a small chain of its own::

    limit rate over 100/second burst 25 packets counter drop     # beyond the limit: not logged, counted
    log prefix "gw:<rule id>" group 27 drop                       # logged through nfnetlink_log

so the rule's verdict never depends on the limit, the limit is per rule (as Neutron's, 100/s burst 25), and
the first rule's counter is what "skipped N" records report. Accept rules are logged only with mode "all",
and at layer 3 only for new connections (as Neutron).
"""

from __future__ import annotations

from dataclasses import dataclass

from guestwall.compile import names
from guestwall.compile.rules import Rendered
from guestwall.compile.ruleset import ChainSpec, TableSpec, rule_digest
from guestwall.instantiate.program import ProgramRule, Stage
from guestwall.nft import ir

LOGGED = {"drop": ("drop", "reject"), "all": ("drop", "reject", "accept")}
# A filter rule whose comment starts with this is logged for every port: security-group rules and provider
# blocks marked for logging carry it, a user's own rule may too (``<tcp ... comment='guestwall:log'/>``)
LOG_COMMENT = "guestwall:log"


def marked(rule: ProgramRule) -> bool:
    return (rule.comment or "").startswith(LOG_COMMENT)
DIRECTION = {Stage.L2_OUT: "out", Stage.L3_OUT: "out", Stage.L2_IN: "in", Stage.L3_IN: "in"}


@dataclass(frozen=True)
class LogOptions:
    group: int = 27
    rate: int = 100  # packets per second, per rule
    burst: int = 25


@dataclass(frozen=True)
class LogRule:
    """What a log record says about the rule that decided: from the prefix's id back to the filter rule."""

    id: str
    direction: str  # "out" (from the guest) or "in" (to it)
    stage: str
    verdict: str
    filter: str
    rule: int  # 1-based, in the filter's document order
    priority: int
    chain: str  # the filter's chain (root, ipv4, arp, ...)
    kernel_chain: str  # our nft chain holding the rule
    comment: str = ""

    def describe(self) -> str:
        return f"filter {self.filter} rule {self.rule} (priority {self.priority}, chain {self.chain})"


def with_counter(rendered: Rendered) -> Rendered:
    """The rule counting what it decides (``[counters] rules = true``): a counter before the verdict."""
    stmts = (*rendered.rule.statements[:-1], ir.Counter(), rendered.rule.statements[-1])
    origin = rendered.rule.comment.split(" ", 1)[1] if " " in rendered.rule.comment else ""
    comment = ir.safe_comment(f"{rule_digest(ir.Rule(stmts))} {origin}")
    return Rendered(ir.Rule(stmts, comment), rendered.uses)


def _fixed(*stmts: ir.Statement) -> ir.Rule:
    rule = ir.Rule(tuple(stmts))
    return ir.Rule(rule.statements, f"{rule_digest(rule)} guestwall log")


def with_log(
    rendered: Rendered,
    rule: ProgramRule,
    stage: Stage,
    table: TableSpec,
    scope: str,
    position: int,
    mode: str,
    options: LogOptions,
    log_rules: dict[str, LogRule],
) -> Rendered:
    """The rendered rule, jumping to its log chain if ``mode`` logs its verdict (else unchanged)."""
    verdict = rule.verdict.value
    if verdict not in LOGGED.get(mode, ()) and not (marked(rule) and verdict in LOGGED["all"]):
        return rendered
    rule_id = names.log_rule_id(scope, position)
    chain = names.log_chain(rule_id)
    if chain not in table.chains:
        final = ir.Verdict(ir.VerdictKind(verdict))
        body = []
        if verdict == "accept" and stage in (Stage.L3_OUT, Stage.L3_IN):
            not_new = ir.Match(ir.Ct("state"), ir.Const("new", ir.Style.SYMBOL), negated=True)
            body.append(_fixed(not_new, final))
        body += [
            _fixed(ir.Limit(options.rate, options.burst, over=True), ir.Counter(), final),
            _fixed(ir.Log(f"{names.LOG_PREFIX}{rule_id}", options.group), final),
        ]
        table.chains[chain] = ChainSpec(chain, body)
    origin = rule.origin
    log_rules[rule_id] = LogRule(
        rule_id,
        DIRECTION[stage],
        stage.value,
        verdict,
        origin.filter,
        origin.rule,
        origin.priority,
        origin.chain,
        scope,
        rule.comment or "",
    )
    stmts = (*rendered.rule.statements[:-1], ir.Verdict(ir.VerdictKind.JUMP, chain))
    digest = rule_digest(ir.Rule(stmts))
    comment = ir.safe_comment(f"{digest} {origin.filter}#{origin.rule}")
    return Rendered(ir.Rule(stmts, comment), rendered.uses)
