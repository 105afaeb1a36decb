"""Make before break: an incremental transaction whose only effect on packets is a change of set and map
elements runs in three steps, so that the step packets see is an element-only batch (``dataplane.nlelements``,
no libnftables element cache: with 10,000 provider blocks that cache costs 14 ms a call).

1. prepare: the chains this change brings, with their rules, and the sets it declares. Nothing points at
   them yet, so no packet reaches them.
2. switch: every element added and deleted, in one atomic batch: ports point at their new group chains,
   per-port values and address sets change. What any packet sees changes here, in one step.
3. clean up: the chains no port points at any more are flushed and deleted.

A transaction that also edits a live chain (a flush and refill that packets traverse) is not split: it
runs whole, as one transaction. ``Transaction`` stays the whole change: what ``--dry-run``, the goldens and
the results show is the same.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass

from guestwall.dataplane.backend import Backend
from guestwall.dataplane.nlelements import encode
from guestwall.errors import DataplaneError
from guestwall.nft.commands import (
    Chain,
    ChainRule,
    Command,
    Elements,
    SetDecl,
    Table,
    Transaction,
    Verb,
    delete,
    flush,
)


@dataclass(frozen=True)
class Stages:
    prepare: Transaction
    switch: Transaction
    cleanup: Transaction


def _stage(cmd: Command, new: set[tuple[Table, str]], gone: set[tuple[Table, str]]) -> str | None:
    """Which step a command belongs to; None when it changes something packets traverse now."""
    obj = cmd.obj
    if isinstance(obj, Elements):
        return "switch"
    if cmd.verb is Verb.ADD and (
        isinstance(obj, SetDecl)
        or (isinstance(obj, Chain) and (obj.table, obj.name) in new)
        or (isinstance(obj, ChainRule) and (obj.chain.table, obj.chain.name) in new)
    ):
        return "prepare"
    if cmd.verb in (Verb.FLUSH, Verb.DELETE) and isinstance(obj, Chain) and (obj.table, obj.name) in gone:
        return "cleanup"
    return None


def stages(tx: Transaction) -> Stages | None:
    """The three steps of ``tx``, or None when it must run whole (it edits a live chain, has nothing to
    prepare or clean up, or holds elements the netlink writer does not write)."""
    chains = [(c.verb, c.obj) for c in tx.commands if isinstance(c.obj, Chain)]
    new = {(obj.table, obj.name) for verb, obj in chains if verb is Verb.ADD}
    gone = {(obj.table, obj.name) for verb, obj in chains if verb is Verb.DELETE}
    steps: dict[str, list[Command]] = {"prepare": [], "switch": [], "cleanup": []}
    for cmd in tx.commands:
        step = _stage(cmd, new, gone)
        if step is None:
            return None  # a live chain changes: only one transaction keeps that atomic
        steps[step].append(cmd)
    prepare, switch, cleanup = (Transaction(tuple(steps[s])) for s in ("prepare", "switch", "cleanup"))
    if not (prepare or cleanup) or not switch or encode(switch) is None:
        return None
    return Stages(prepare, switch, cleanup)


def run_staged(backend: Backend, tx: Transaction) -> None:
    """Run ``tx`` in its stages when it has them, else whole. A failed switch takes the prepared chains
    away again (best effort: they are unreferenced either way) before the error propagates."""
    steps = stages(tx)
    if steps is None:
        backend.run(tx)
        return
    if steps.prepare:
        backend.run(steps.prepare)
    try:
        backend.run(steps.switch)
    except DataplaneError:
        if steps.prepare:
            _take_back(backend, steps.prepare)
        raise
    if steps.cleanup:
        backend.run(steps.cleanup)


def _take_back(backend: Backend, prepared: Transaction) -> None:
    chains = [c.obj for c in prepared.commands if isinstance(c.obj, Chain)]
    undo = [flush(c) for c in chains] + [delete(c) for c in chains]
    with suppress(DataplaneError):  # else left unreferenced: the full path that follows deletes them
        backend.run(Transaction(tuple(undo)))
