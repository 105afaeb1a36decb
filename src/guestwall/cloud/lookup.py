"""Finding the cloud objects a user names: by id, by unique name, or by a unique start of the id; and the
checks every use case shares (If-Match revisions, the project's default group, fresh group ids)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar
from uuid import uuid4

from guestwall.cloud import translate as tr
from guestwall.cloud.validate import CloudInputError, CloudNotFound
from guestwall.errors import RevisionMismatch
from guestwall.model.cloud import (
    DEFAULT_GROUP_NAME,
    AddressGroup,
    Ethertype,
    Port,
    ProviderBlock,
    RuleDirection,
    SecurityGroup,
    SecurityGroupRule,
)
from guestwall.store.cloudrepo import CloudReader, CloudWriter

T = TypeVar("T")


def resolve(
    ref: str, items: Sequence[T], ident: Callable[[T], str], what: str, name: Callable[[T], str] | None = None
) -> T:
    """An item by exact id, by unique name, or by a unique start (4 characters or more) of its id."""
    exact = [i for i in items if ident(i) == ref]
    if exact:
        return exact[0]
    if name is not None:
        named = [i for i in items if name(i) == ref]
        if len(named) == 1:
            return named[0]
        if len(named) > 1:
            ids = ", ".join(ident(i) for i in named)
            raise CloudInputError(f"{what} name '{ref}' is ambiguous: use one of the ids {ids}")
    if len(ref) >= 4:
        prefixed = [i for i in items if ident(i).startswith(ref)]
        if len(prefixed) == 1:
            return prefixed[0]
    raise CloudNotFound(f"unknown {what} '{ref}'")


def resolve_group(repo: CloudReader, ref: str, project: str | None = None) -> SecurityGroup:
    """A group by id, by name (in ``project`` when given), or by a unique start of its id."""
    found = repo.group(ref)
    if found is not None:
        return found
    named = repo.groups_named(ref, project)
    if len(named) == 1:
        return named[0]  # as resolve would: an exact id came first, and none has it
    groups = repo.groups(project) if project is not None else repo.groups()
    return resolve(ref, groups, lambda g: g.id, "security group", lambda g: g.name)


def resolve_port(repo: CloudReader, ref: str) -> Port:
    """A port by device, by id, by unique name, or by a unique start of its id."""
    found = repo.port_by_device(ref) or repo.port(ref)
    if found is not None:
        return found
    return resolve(ref, repo.ports(), lambda p: p.id, "port", lambda p: p.name)


def address_group(repo: CloudReader, ident: str) -> AddressGroup:
    """An address group by its exact id."""
    found = repo.address_group(ident)
    if found is None:
        raise CloudNotFound(f"unknown address group '{ident}'")
    return found


class GroupResolver:
    """resolve_group with the answers of one transaction remembered (many ports name the same groups)."""

    def __init__(self, repo: CloudReader) -> None:
        self.repo = repo
        self.known: dict[tuple[str, str], str] = {}

    def __call__(self, ref: str, project: str) -> str:
        key = (ref, project)
        if key not in self.known:
            self.known[key] = resolve_group(self.repo, ref, project).id
        return self.known[key]


def check_revision(what: str, ident: str, current: int, expected: int | None) -> None:
    """Neutron's If-Match: a change conditioned on a revision the object no longer has is refused."""
    if expected is not None and expected != current:
        raise RevisionMismatch(
            f"{what} {ident} is at revision {current}, not {expected} as the request requires (If-Match)"
        )


def default_of(repo: CloudReader, project: str) -> SecurityGroup | None:
    """The project's ``default`` security group, if it has one yet."""
    defaults = repo.groups_named(DEFAULT_GROUP_NAME, project)
    return defaults[0] if defaults else None


def ensure_default(
    repo: CloudWriter, project: str, description: str = "Default security group"
) -> SecurityGroup | None:
    """Add the project's default group in the caller's transaction when missing; the new group or None."""
    if default_of(repo, project) is not None:
        return None
    group = new_group(repo, DEFAULT_GROUP_NAME, project, description, True, False)
    repo.add_group(group)
    return group


def new_group(
    repo: CloudReader, name: str, project: str, description: str, member_ingress: bool, shared: bool
) -> SecurityGroup:
    """A group with Neutron's rules for a new one: egress allowed (IPv4 and IPv6) and, with
    ``member_ingress``, ingress from its own members (as the default group)."""
    group_id = _new_id({tr.group_key(ident) for ident in repo.group_ids()})
    directions = (RuleDirection.EGRESS, RuleDirection.INGRESS) if member_ingress else (RuleDirection.EGRESS,)
    rules = tuple(
        SecurityGroupRule(
            str(uuid4()),
            group_id,
            direction,
            ether,
            remote_group_id=group_id if direction is RuleDirection.INGRESS else None,
        )
        for direction in directions
        for ether in Ethertype
    )
    return SecurityGroup(group_id, name, project, description, rules, shared=shared)


def _new_id(taken_keys: set[str]) -> str:
    """A fresh UUID whose kernel key (first 16 hex digits) no existing group has."""
    while True:
        candidate = str(uuid4())
        if tr.group_key(candidate) not in taken_keys:
            return candidate


def group_name(repo: CloudReader, group_id: str) -> str:
    group = repo.group(group_id)
    return group.name if group is not None else group_id


def referencing_groups(repo: CloudReader, groups: set[str]) -> frozenset[str]:
    """Groups with a rule that names any of ``groups`` as remote (their ports' access depends on its
    members)."""
    return frozenset(r.group_id for g in groups for r in repo.rules_with_remote(g))


def describe_block(block: ProviderBlock) -> str:
    text = str(block.cidr)
    if block.protocol is not None:
        text += f" {block.protocol}"
    if block.port_min is not None:
        text += f" port {block.port_min}" + (f":{block.port_max}" if block.port_max != block.port_min else "")
    return text
