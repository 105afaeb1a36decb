"""Address groups (Neutron's): named CIDRs a rule can name as its remote side, enforced as a kernel set.
Removing addresses kills the connections only they allowed; a group a rule names cannot be deleted."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from uuid import uuid4

from guestwall.cloud.commit import enforce, finish
from guestwall.cloud.lookup import address_group, check_revision
from guestwall.cloud.outcome import DEFAULT_PROJECT, CloudContext, Outcome
from guestwall.cloud.revoke import Revoked
from guestwall.cloud.sync import Scope
from guestwall.cloud.validate import CloudInUse, CloudNotFound
from guestwall.model.cloud import AddressGroup, Network
from guestwall.store.cloudrepo import cloud_reader, cloud_writer


def create_address_group(
    ctx: CloudContext,
    name: str,
    project: str = DEFAULT_PROJECT,
    description: str = "",
    addresses: Sequence[Network] = (),
) -> Outcome[AddressGroup]:
    group = AddressGroup(str(uuid4()), name, project, description, tuple(dict.fromkeys(addresses)))
    with ctx.store.write() as writer:
        repo = cloud_writer(writer)
        repo.put_address_group(group)
        applied = enforce(ctx, writer, repo, Scope(address_groups={group.id}))
        stored = repo.address_group(group.id)
    assert stored is not None
    return finish(ctx, stored, applied)


def get_address_group(ctx: CloudContext, ident: str) -> AddressGroup:
    with ctx.store.read() as reader:
        return address_group(cloud_reader(reader), ident)


def list_address_groups(ctx: CloudContext, project: str | None = None) -> list[AddressGroup]:
    with ctx.store.read() as reader:
        return cloud_reader(reader).address_groups(project)


def update_address_group(
    ctx: CloudContext,
    ident: str,
    *,
    expect_revision: int | None = None,
    name: str | None = None,
    description: str | None = None,
    add: Sequence[Network] = (),
    remove: Sequence[Network] = (),
) -> Outcome[AddressGroup]:
    """Rename, describe, add or remove addresses (Neutron's ``add_addresses``/``remove_addresses``);
    connections that removed addresses were allowed by are killed."""
    with ctx.store.write() as writer:
        repo = cloud_writer(writer)
        group = address_group(repo, ident)
        check_revision("address group", group.id, group.revision, expect_revision)
        missing = [str(n) for n in remove if n not in group.addresses]
        if missing:
            raise CloudNotFound(f"address group {group.id} does not have address(es) {', '.join(missing)}")
        gone = set(remove)
        addresses = tuple(n for n in dict.fromkeys((*group.addresses, *add)) if n not in gone)
        new = replace(
            group,
            name=group.name if name is None else name,
            description=group.description if description is None else description,
            addresses=addresses,
        )
        repo.put_address_group(new)
        applied = enforce(ctx, writer, repo, Scope(address_groups={group.id}))
        users = {r.group_id for r in repo.rules_with_remote_address_group(group.id)}
        affected = Revoked(groups=frozenset(users)) if gone else Revoked()  # flows at their ports
        stored = repo.address_group(group.id)
    assert stored is not None
    return finish(ctx, stored, applied, affected)


def delete_address_group(
    ctx: CloudContext, ident: str, *, expect_revision: int | None = None
) -> Outcome[AddressGroup]:
    """Remove an address group that no rule names (Neutron: AddressGroupInUse)."""
    with ctx.store.write() as writer:
        repo = cloud_writer(writer)
        group = address_group(repo, ident)
        check_revision("address group", group.id, group.revision, expect_revision)
        users = repo.rules_with_remote_address_group(group.id)
        if users:
            rules = ", ".join(r.id for r in users)
            raise CloudInUse(f"address group '{group.name}' is in use by security group rule(s) {rules}")
        repo.delete_address_group(group.id)
        applied = enforce(ctx, writer, repo, Scope(address_groups={group.id}))
    return finish(ctx, group, applied)
