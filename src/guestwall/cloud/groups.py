"""Security groups: create (with Neutron's default rules), the project's default group, rename/describe/
share, delete. Each change is one store and one kernel transaction and returns its ``Outcome``."""

from __future__ import annotations

from collections.abc import Sequence

from guestwall.cloud import translate as tr
from guestwall.cloud.commit import enforce, finish
from guestwall.cloud.lookup import check_revision, default_of, ensure_default, new_group, resolve_group
from guestwall.cloud.outcome import DEFAULT_PROJECT, CloudContext, Outcome
from guestwall.cloud.revoke import Revoked
from guestwall.cloud.sync import Scope
from guestwall.cloud.validate import CloudConflict, CloudInputError, CloudInUse
from guestwall.model import Filter
from guestwall.model.cloud import DEFAULT_GROUP_NAME, SecurityGroup
from guestwall.services.filters import load_filters
from guestwall.store.cloudrepo import cloud_reader, cloud_writer
from guestwall.store.records import Reader


def create_group(
    ctx: CloudContext,
    name: str,
    project: str = DEFAULT_PROJECT,
    description: str = "",
    *,
    member_ingress: bool = True,
    shared: bool = False,
) -> Outcome[SecurityGroup]:
    """A new group allows all egress and, with ``member_ingress``, ingress from its own members (as
    Neutron's default group; without it, only Neutron's two egress rules, as a new group in Neutron).
    The project's ``default`` group is created first if it does not exist yet."""
    made = create_groups(ctx, [(name, description)], project, member_ingress=member_ingress, shared=shared)
    return Outcome(made.value[0], made.applied, made.killed, made.warnings)


def create_groups(
    ctx: CloudContext,
    groups: Sequence[tuple[str, str]],
    project: str = DEFAULT_PROJECT,
    *,
    member_ingress: bool = True,
    shared: bool = False,
) -> Outcome[list[SecurityGroup]]:
    """Several groups (name, description) in one store and one kernel transaction: all or none."""
    for name, _ in groups:
        if not name.strip():
            raise CloudInputError("a security group needs a name")
    with ctx.store.write() as writer:
        repo = cloud_writer(writer)
        created: list[SecurityGroup] = []
        for name, description in groups:
            if name == DEFAULT_GROUP_NAME:
                # asking for ``default`` is creating it: once per project, always Neutron's rules
                default = ensure_default(repo, project, description)
                if default is None:
                    raise CloudConflict(f"project '{project}' already has its default security group")
                created.append(default)
                continue
            group = new_group(repo, name, project, description, member_ingress, shared)
            repo.add_group(group)
            created.append(group)
        default = ensure_default(repo, project)
        made = [default] if default is not None else []
        applied = enforce(ctx, writer, repo, Scope(groups={g.id for g in (*made, *created)}))
        stored = [repo.group(g.id) for g in created]
    return finish(ctx, [g for g in stored if g is not None], applied)


def ensure_default_group(ctx: CloudContext, project: str) -> Outcome[SecurityGroup]:
    """The project's ``default`` group, created as Neutron creates it when it does not exist yet: egress
    allowed, ingress from its own members (IPv4 and IPv6). Neutron does this when a project lists its
    groups or creates a port; so do the API and the cloud layer."""
    with ctx.store.read() as reader:
        found = default_of(cloud_reader(reader), project)
    if found is not None:
        return Outcome(found)
    with ctx.store.write() as writer:
        repo = cloud_writer(writer)
        group = ensure_default(repo, project)
        if group is None:  # another writer was quicker
            existing = default_of(repo, project)
            assert existing is not None
            return Outcome(existing)
        applied = enforce(ctx, writer, repo, Scope(groups={group.id}))
    return finish(ctx, group, applied)


def update_group(
    ctx: CloudContext,
    ref: str,
    project: str | None = None,
    *,
    expect_revision: int | None = None,
    name: str | None = None,
    description: str | None = None,
    shared: bool | None = None,
) -> Outcome[SecurityGroup]:
    """Rename a group, change its description or sharing; nothing in the kernel changes."""
    with ctx.store.write() as writer:
        repo = cloud_writer(writer)
        group = resolve_group(repo, ref, project)
        check_revision("security group", group.id, group.revision, expect_revision)
        if name is not None:
            if not name.strip():
                raise CloudInputError("a security group needs a name")
            if group.is_default and name != group.name:
                raise CloudConflict("the default security group cannot be renamed")
            if name == DEFAULT_GROUP_NAME and not group.is_default:
                raise CloudConflict(f"project '{group.project}' already has its default security group")
        repo.update_group(group.id, name=name, description=description, shared=shared)
        updated = repo.group(group.id)
    assert updated is not None
    return Outcome(updated)


def delete_group(
    ctx: CloudContext, ref: str, project: str | None = None, *, expect_revision: int | None = None
) -> Outcome[SecurityGroup]:
    """Remove a group no port is in; rules of other groups that name it as remote go with it."""
    with ctx.store.write() as writer:
        repo = cloud_writer(writer)
        group = resolve_group(repo, ref, project)
        check_revision("security group", group.id, group.revision, expect_revision)
        users = repo.group_in_use(group.id)
        if users:
            raise CloudInUse(f"security group '{group.name}' is in use by port(s) {', '.join(users)}")
        _refuse_if_filters_use(writer, group)
        referencing = {r.group_id for r in repo.rules_with_remote(group.id)} - {group.id}
        affected = Revoked(groups=frozenset(referencing))  # their ports, found by the flows' addresses
        repo.delete_group(group.id)
        applied = enforce(ctx, writer, repo, Scope(groups={group.id, *referencing}))
    return finish(ctx, group, applied, affected)


def get_group(ctx: CloudContext, ref: str, project: str | None = None) -> SecurityGroup:
    with ctx.store.read() as reader:
        return resolve_group(cloud_reader(reader), ref, project)


def list_groups(ctx: CloudContext, project: str | None = None) -> list[SecurityGroup]:
    with ctx.store.read() as reader:
        return cloud_reader(reader).groups(project)


def _refuse_if_filters_use(reader: Reader, group: SecurityGroup) -> None:
    """A user filter that names the group's address set (``ipset='gw-sg-KEY'``) keeps the group: without
    the set no full apply could succeed, and after a flush or reboot nothing would be restored."""
    set_name = tr.group_set_name(group.id)
    users = sorted(
        name
        for name, definition in load_filters(reader).items()
        if not name.startswith(tr.DERIVED_PREFIX) and set_name in _ipsets_of(definition)
    )
    if users:
        raise CloudInUse(
            f"security group '{group.name}' is in use by filter(s) {', '.join(users)} "
            f"(ipset '{set_name}'): change them first"
        )


def _ipsets_of(definition: Filter) -> set[str]:
    out = set()
    for rule in definition.rules:
        value = rule.match.as_dict().get("ipset") if rule.match is not None else None
        if value is not None and isinstance(value.value, str):
            out.add(value.value)
    return out
