"""Inline jumps to chains whose whole outcome one rule can say, so every frame takes fewer jumps.

Two shapes, both exact:

- the target's first rule is a bare ``accept`` or ``drop``: the jump decides that verdict, so the jumping
  rule ends in it (libvirt's ``allow-incoming-ipv4`` chain behind ``ether type 0x0800 jump``);
- the target is ``M return`` then a bare ``drop`` (libvirt's anti-spoofing chains, e.g. ``iifname . ether
  saddr @macs return; drop``): a packet comes back exactly when M holds and is dropped otherwise, so the
  jumping rule becomes ``not M drop``. Only where M's field is always present in the frame (interface
  names, the mark, the Ethernet header): a field that can be missing fails both M and its negation.

Jumping rules must be plain matches (no counter, log or set update), and so must the target's rules used.
The target chain stays (other rules or ports may jump to it); it is only no longer on the packet's path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from guestwall.compile.ruleset import ChainSpec
from guestwall.nft import ir

_ALWAYS_THERE = frozenset(
    {
        ir.Meta("iifname"),
        ir.Meta("oifname"),
        ir.Meta("mark"),
        ir.Payload("ether", "saddr"),
        ir.Payload("ether", "daddr"),
        ir.Payload("ether", "type"),
    }
)
_DECIDING = frozenset({ir.VerdictKind.ACCEPT, ir.VerdictKind.DROP})
_RETURN = ir.Verdict(ir.VerdictKind.RETURN)
_DROP = ir.Verdict(ir.VerdictKind.DROP)


def _always_there(e: ir.Expr) -> bool:
    if isinstance(e, ir.Concat):
        return all(_always_there(i) for i in e.items)
    return e in _ALWAYS_THERE


def _origin(rule: ir.Rule) -> str:
    return rule.comment.split(" ", 1)[1] if " " in rule.comment else ""


def _outcome(target: list[ir.Rule]) -> tuple[tuple[ir.Statement, ...], str] | None:
    """What a jump to ``target`` amounts to as the jumping rule's tail, and the deciding rule's origin."""
    if not target:
        return None
    first = target[0].statements
    if len(first) == 1 and isinstance(first[0], ir.Verdict) and first[0].kind in _DECIDING:
        return first, _origin(target[0])
    if len(target) < 2 or len(first) != 2 or first[1] != _RETURN or target[1].statements != (_DROP,):
        return None
    m = first[0]
    if not isinstance(m, ir.Match) or not _always_there(m.left):
        return None
    return (ir.Match(m.left, m.right, not m.negated), _DROP), _origin(target[1])


def inline_jumps(chains: Mapping[str, ChainSpec], digest: Callable[[ir.Rule], str]) -> None:
    """Every non-base chain of one table with such jumps replaced (in place)."""
    for chain in chains.values():
        if chain.base is not None:
            continue
        chain.rules = [_inlined(rule, chains, digest) for rule in chain.rules]


def _inlined(rule: ir.Rule, chains: Mapping[str, ChainSpec], digest: Callable[[ir.Rule], str]) -> ir.Rule:
    *matches, last = rule.statements or (None,)
    if not isinstance(last, ir.Verdict) or last.kind is not ir.VerdictKind.JUMP or last.target is None:
        return rule
    if not all(isinstance(s, ir.Match) for s in matches):
        return rule
    target = chains.get(last.target)
    if target is None or target.base is not None:
        return rule
    outcome = _outcome(target.rules)
    if outcome is None:
        return rule
    tail, origin = outcome
    stmts = (*matches, *tail)
    return ir.Rule(stmts, ir.safe_comment(f"{digest(ir.Rule(stmts))} {origin}".rstrip()))  # type: ignore[arg-type]
