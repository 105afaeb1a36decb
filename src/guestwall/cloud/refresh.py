"""Refreshes: make store and kernel follow cloud objects changed elsewhere (another host, the Nova driver's
peers, SQL), and ``resync`` of everything derived from the cloud objects (after an upgrade, a manual
edit). Each returns its ``Outcome`` with the connections the change revoked killed."""

from __future__ import annotations

from collections.abc import Sequence

from guestwall.cloud import translate as tr
from guestwall.cloud.commit import enforce, finish
from guestwall.cloud.lookup import referencing_groups
from guestwall.cloud.outcome import CloudContext, Outcome
from guestwall.cloud.revoke import Revoked
from guestwall.cloud.sync import Scope
from guestwall.dataplane.apply import ApplyResult
from guestwall.model.cloud import Port
from guestwall.store.cloudrepo import cloud_writer


def refresh_group(ctx: CloudContext, group_id: str) -> Outcome[None]:
    """A group's rules changed: rewrite its filter, enforce, kill flows its ports lost."""
    with ctx.store.write() as writer:
        repo = cloud_writer(writer)
        applied = enforce(ctx, writer, repo, Scope(groups={group_id}), full=True)
        affected = Revoked(groups=frozenset({group_id}))  # the flows at its ports
    return finish(ctx, None, applied, affected)


def refresh_members(ctx: CloudContext, group_id: str) -> Outcome[None]:
    """A group's members changed: rewrite its address set, enforce, kill flows that lost access."""
    with ctx.store.write() as writer:
        repo = cloud_writer(writer)
        # element deltas against what the kernel holds, so also right when the store changed earlier
        scope = Scope(member_sets={group_id})
        applied = enforce(ctx, writer, repo, scope, sets={tr.group_set_name(group_id)})
        # the flows at the ports of the groups that name it as remote (not their thousand ports, built)
        affected = Revoked(groups=referencing_groups(repo, {group_id}))
    return finish(ctx, None, applied, affected)


def refresh_ports(ctx: CloudContext, ports: Sequence[Port]) -> Outcome[None]:
    """Ports changed: rewrite their bindings and their groups' sets, enforce, kill what they lost."""
    with ctx.store.write() as writer:
        repo = cloud_writer(writer)
        groups = {g for p in ports for g in p.security_groups}
        scope = Scope(ports={p.id for p in ports}, member_sets=groups)
        applied = enforce(ctx, writer, repo, scope, full=True)
        affected = Revoked.of_ports(ports, referencing_groups(repo, groups))
    return finish(ctx, None, applied, affected)


def refresh_provider(ctx: CloudContext) -> Outcome[None]:
    """Provider blocks changed: rewrite the provider filter and sets, enforce, kill blocked flows."""
    with ctx.store.write() as writer:
        repo = cloud_writer(writer)
        applied = enforce(ctx, writer, repo, Scope(provider=True), full=True)
        # without blocks nothing was revoked by them: the group rules did not change
        affected = repo.ports() if repo.provider_block_ids() else []
    return finish(ctx, None, applied, affected)


def resync(ctx: CloudContext) -> Outcome[ApplyResult]:
    """Rewrite everything derived from the cloud objects, enforce (a full apply)."""
    with ctx.store.write() as writer:
        repo = cloud_writer(writer)
        applied = enforce(ctx, writer, repo, Scope(everything=True), full=True)
    return Outcome(applied, applied)
