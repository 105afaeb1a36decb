"""Our tables in the kernel as the engine's watch mode sees them: what the diff compares, plus a
fingerprint of each chain.

The diff compares rules by the content digest in their comments. A rule edited in place that kept its
comment would pass that comparison, so the engine (in the agent) also remembers a hash of every chain's
rule expressions as it left them after its last apply; a chain whose digests are unchanged but whose
expressions differ was edited by someone else and is refilled. Right after a start nothing is trusted
yet: the first reading is the reference. ``verify`` trusts nothing: it loads the desired state into a
scratch table without hooks (so it sees no packet), lets the kernel render it, and compares every chain's
expressions with ours (SIGHUP).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import Any

from guestwall.compile import names
from guestwall.compile.ruleset import Ruleset
from guestwall.dataplane.backend import Backend
from guestwall.dataplane.diff import diff
from guestwall.dataplane.state import ActualTable, parse_table
from guestwall.nft.commands import (
    Chain,
    ChainRule,
    Command,
    Elements,
    ListTable,
    Object,
    SetDecl,
    Table,
    add,
    delete,
    transaction,
)

ChainKey = tuple[str, str]  # (family, chain)
Fingerprints = dict[ChainKey, tuple[tuple[str, ...], str]]  # -> (rule digests, hash of the rule expressions)
TAMPERED = "tampered"


SCRATCH = f"{names.TABLE}_verify"


def _without_counts(expr: Any) -> Any:
    """A counter's packets and bytes change with traffic, not with the rule (drop-log chains count)."""
    if isinstance(expr, dict) and "counter" in expr:
        return {"counter": None}
    return expr


def _expression_hashes(listing: dict[str, Any]) -> dict[str, str]:
    """Per chain of one table listing: a hash of its rules' expressions and comments, in order."""
    exprs: dict[str, list[str]] = {}
    for obj in listing.get("nftables", []):
        if "chain" in obj:
            exprs.setdefault(obj["chain"]["name"], [])
        rule: dict[str, Any] | None = obj.get("rule")
        if rule is not None:
            expr = [_without_counts(e) for e in rule.get("expr", [])]
            text = json.dumps(expr, sort_keys=True) + "\x1f" + str(rule.get("comment", ""))
            exprs.setdefault(rule["chain"], []).append(text)
    return {name: hashlib.sha256("\n".join(texts).encode()).hexdigest() for name, texts in exprs.items()}


def read_kernel(backend: Backend) -> tuple[dict[str, ActualTable], Fingerprints]:
    """Our tables as they are now (as ``dataplane.state.read_state``) and their chains' fingerprints."""
    state: dict[str, ActualTable] = {}
    prints: Fingerprints = {}
    for family in names.FAMILIES:
        listing = backend.list_json(ListTable(Table(family, names.TABLE)))
        if listing is None:
            continue
        table = parse_table(family, listing)
        state[family] = table
        hashes = _expression_hashes(listing)
        for name, chain in table.chains.items():
            prints[(family, name)] = (tuple(chain.digests), hashes.get(name, ""))
    return state, prints


def _to_scratch(obj: Object) -> Object:
    """The same object in the scratch table; chains without hooks, so no packet ever sees them."""
    if isinstance(obj, Table):
        return Table(obj.family, SCRATCH)
    if isinstance(obj, Chain):
        return Chain(Table(obj.table.family, SCRATCH), obj.name)
    if isinstance(obj, SetDecl):
        return replace(obj, table=Table(obj.table.family, SCRATCH))
    if isinstance(obj, Elements):
        return replace(obj, set=replace(obj.set, table=Table(obj.set.table.family, SCRATCH)))
    return ChainRule(Chain(Table(obj.chain.table.family, SCRATCH), obj.chain.name), obj.rule)


def verify(backend: Backend, desired: Ruleset, current: Fingerprints) -> list[ChainKey]:
    """Chains whose rules are not exactly what ``desired`` renders to in this kernel, whatever their
    comments say. Loads ``desired`` into scratch tables (no hooks: no packet ever sees them), reads them
    back, removes them."""
    scratch = [Table(family, SCRATCH) for family in names.FAMILIES]
    reset: list[Command] = [c for t in scratch for c in (add(t), delete(t))]
    load = [Command(c.verb, _to_scratch(c.obj)) for c in diff(desired, {}).commands]
    backend.run(transaction(reset + load))
    try:
        expected: dict[ChainKey, str] = {}
        for table in scratch:
            listing = backend.list_json(ListTable(table))
            for name, digest in _expression_hashes(listing or {}).items():
                expected[(table.family, name)] = digest
    finally:
        backend.run(transaction(delete(t) for t in scratch))
    return [key for key, (_, digest) in current.items() if key in expected and expected[key] != digest]


def mark(state: dict[str, ActualTable], chains: list[ChainKey]) -> None:
    """Blank the digests of ``chains`` in ``state``, so that the diff flushes and refills them."""
    for family, chain in chains:
        table = state.get(family)
        if table is not None and chain in table.chains:
            table.chains[chain].digests = [TAMPERED] * max(1, len(table.chains[chain].digests))


def mark_tampered(
    state: dict[str, ActualTable], trusted: Fingerprints, current: Fingerprints
) -> list[ChainKey]:
    """Chains edited in place since ``trusted`` was taken: their digests are blanked in ``state``, so the
    diff flushes and refills them. Returns them."""
    tampered = [
        key
        for key, (digests, exprs) in current.items()
        if (known := trusted.get(key)) is not None and known[0] == digests and known[1] != exprs
    ]
    mark(state, tampered)
    return tampered
