"""Security group rules: add (checked field by field and against the group's other rules), look up,
delete. Deleting a rule kills the connections of the group's ports that only it allowed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from uuid import uuid4

from guestwall.cloud import validate as v
from guestwall.cloud.commit import enforce, finish
from guestwall.cloud.lookup import address_group, resolve, resolve_group
from guestwall.cloud.outcome import CloudContext, Outcome
from guestwall.cloud.revoke import Revoked
from guestwall.cloud.sync import Scope
from guestwall.cloud.validate import CloudConflict, CloudInputError, CloudNotFound, checked_rule_fields
from guestwall.model.cloud import Ethertype, Network, RuleDirection, SecurityGroup, SecurityGroupRule
from guestwall.store.cloudrepo import CloudWriter, cloud_reader, cloud_writer


@dataclass(frozen=True)
class RuleSpec:
    """A rule to add, validated field by field (guestwall.cloud.validate) but not yet against the others."""

    direction: RuleDirection
    ethertype: Ethertype = Ethertype.IPV4
    protocol: str | None = None
    ports: tuple[int, int] | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None
    remote_cidr: Network | None = None
    remote_group: str | None = None  # id or name
    description: str = ""
    remote_address_group: str | None = None  # id
    log: bool = False  # the drop log records what it accepts


def create_rule(
    ctx: CloudContext, group_ref: str, spec: RuleSpec, project: str | None = None
) -> Outcome[SecurityGroupRule]:
    made = create_rules(ctx, [(group_ref, spec)], project)
    return Outcome(made.value[0], made.applied, made.killed, made.warnings)


def create_rules(
    ctx: CloudContext, specs: Sequence[tuple[str, RuleSpec]], project: str | None = None
) -> Outcome[list[SecurityGroupRule]]:
    """Several rules (group, spec) in one store and one kernel transaction: all or none."""
    with ctx.store.write() as writer:
        repo = cloud_writer(writer)
        made = [_add_rule(repo, resolve_group(repo, ref, project), spec) for ref, spec in specs]
        applied = enforce(ctx, writer, repo, Scope(groups={r.group_id for r in made}))
        stored = [repo.rule(r.id) or r for r in made]
    return finish(ctx, stored, applied)


def get_rule(ctx: CloudContext, ident: str) -> SecurityGroupRule:
    """A rule by its exact id."""
    with ctx.store.read() as reader:
        found = cloud_reader(reader).rule(ident)
    if found is None:
        raise CloudNotFound(f"unknown security group rule '{ident}'")
    return found


def delete_rule(ctx: CloudContext, ref: str) -> Outcome[SecurityGroupRule]:
    """Remove a rule (by id or a unique start of it); connections only it allowed are killed."""
    with ctx.store.write() as writer:
        repo = cloud_writer(writer)
        # by exact id with one lookup; only a start of an id reads every rule
        rule = repo.rule(ref) or resolve(
            ref, [r for g in repo.groups() for r in g.rules], lambda r: r.id, "security group rule"
        )
        repo.delete_rule(rule.id)
        applied = enforce(ctx, writer, repo, Scope(groups={rule.group_id}))
        # the flows at its group's ports (found by the flows' addresses, not by building every member)
        affected = Revoked(groups=frozenset({rule.group_id}))
    return finish(ctx, rule, applied, affected)


def _add_rule(repo: CloudWriter, group: SecurityGroup, spec: RuleSpec) -> SecurityGroupRule:
    spec = checked_spec(spec)
    remote = resolve_group(repo, spec.remote_group, group.project).id if spec.remote_group else None
    named = None
    if spec.remote_address_group is not None:
        named = address_group(repo, spec.remote_address_group).id
    checked_rule_fields(
        spec.protocol, spec.ports, spec.icmp_type, spec.icmp_code, spec.remote_cidr, remote, spec.ethertype
    )
    if named is not None and (remote is not None or spec.remote_cidr is not None):
        raise CloudInputError("a rule has one remote side: an IP prefix, a remote group or an address group")
    lo, hi = spec.ports if spec.ports is not None else (None, None)
    rule = SecurityGroupRule(
        str(uuid4()),
        group.id,
        spec.direction,
        spec.ethertype,
        spec.protocol,
        lo,
        hi,
        spec.icmp_type,
        spec.icmp_code,
        spec.remote_cidr,
        remote,
        spec.description,
        remote_address_group_id=named,
        log=spec.log,
    )
    current = repo.group(group.id)
    for existing in current.rules if current is not None else group.rules:
        if existing.same_match(rule):
            raise CloudConflict(f"security group '{group.name}' already has this rule ({existing.id})")
    repo.add_rule(rule)
    return rule


def checked_spec(spec: RuleSpec) -> RuleSpec:
    """A rule spec with every field checked as the CLI checks its options (any way in gets the same)."""
    ether = v.checked_enum(spec.ethertype, Ethertype, "ethertype")
    remote = spec.remote_group
    if remote is not None and (not isinstance(remote, str) or not remote.strip()):
        raise CloudInputError(f"invalid remote group {remote!r}: expected a group id or name")
    if not isinstance(spec.description, str):
        raise CloudInputError(f"invalid description {spec.description!r}: expected a string")
    return replace(
        spec,
        direction=v.checked_enum(spec.direction, RuleDirection, "direction"),
        ethertype=ether,
        protocol=v.checked_protocol(spec.protocol, ether),
        ports=v.checked_ports(spec.ports),
        icmp_type=v.checked_icmp(spec.icmp_type, "type"),
        icmp_code=v.checked_icmp(spec.icmp_code, "code"),
        remote_cidr=None
        if spec.remote_cidr is None
        else v.checked_network(spec.remote_cidr, "remote IP prefix"),
    )
