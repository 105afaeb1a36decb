"""The two steps every changing use case ends with: ``enforce`` in the write transaction (what the change
derives, written by sync.py, then the engine's kernel transaction: an error anywhere leaves store and
kernel as they were) and, after commit, ``finish``: kill the connections the change revoked and wrap it all
in an ``Outcome``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import TypeVar, cast

from guestwall.cloud.conntrack import Flow
from guestwall.cloud.outcome import CloudContext, Outcome
from guestwall.cloud.revoke import Revoked, kill_revoked
from guestwall.cloud.sync import Scope, sync
from guestwall.dataplane.apply import ApplyResult
from guestwall.engine import Change, FilterEdit, bound_port
from guestwall.errors import DataplaneError
from guestwall.model.cloud import Network, Port
from guestwall.store.cloudrepo import CloudRepo, CloudWriter
from guestwall.store.records import Writer

T = TypeVar("T")


def enforce(
    ctx: CloudContext,
    writer: Writer,
    repo: CloudWriter,
    scope: Scope,
    *,
    full: bool = False,
    sets: Iterable[str] = (),
) -> ApplyResult:
    """Write what ``scope`` derives, then enforce it through the engine. ``full`` forces the full apply
    (a refresh: the kernel may lag the store, whatever this transaction wrote); ``sets`` are address sets
    to bring in step with the store in any case (element deltas against the kernel's copy)."""
    if ctx.engine is None:
        raise DataplaneError("no kernel backend to enforce the change with")
    lagging = set(sets)
    records = writer.filters()  # read once: sync compares with them and keeps them up to date
    before = {r.name: r.definition for r in records}
    changes = sync(writer, cast(CloudRepo, repo), scope, records)  # typed with the SQL implementation
    after = {n: changes.stored[n].definition for n in sorted(changes.stored)} if changes.filters else before
    change = Change(
        filters=FilterEdit(before, after) if changes.filters else None,
        added=tuple(changes.come),
        # learned addresses of cloud ports are not kept: the records alone say what they held
        removed=tuple(bound_port(writer, old) for old in changes.gone),
        sets=frozenset(changes.sets | lagging),
        # the store knows how this change moved the sets it wrote; ``sets`` may lag: those are read back
        lagging=frozenset(lagging),
        full=full,
    )
    return ctx.engine.apply(writer, change)


def finish(
    ctx: CloudContext,
    value: T,
    applied: ApplyResult | None,
    revoked_from: Iterable[Port] | Revoked = (),
    *,
    peers: Network | None = None,
    warnings: tuple[str, ...] = (),
) -> Outcome[T]:
    """After commit: kill the flows the change revoked (``Revoked``, or the flows of the ports
    ``revoked_from`` with an end in ``peers``) that the enforced rules no longer allow. A failure here
    cannot undo the change, so it becomes a warning."""
    killed: list[Flow] = []
    revoked = revoked_from if isinstance(revoked_from, Revoked) else Revoked.of_ports(revoked_from)
    if peers is not None:
        revoked = replace(revoked, peers=peers)
    if revoked and ctx.conntrack is not None:
        try:
            killed = kill_revoked(ctx.conntrack, ctx.store, revoked)
        except DataplaneError as e:
            warnings += (f"the change is in effect, but open connections were not checked: {e}",)
    return Outcome(value, applied, tuple(killed), warnings)
