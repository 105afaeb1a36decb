"""Ports: create (into the project's default group when asked, as Neutron), change, put (create or update by
device, for the Nova driver), delete. Each change is one store and one kernel transaction; access a port or
its peers lose is revoked at once (their tracked connections are killed)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from uuid import uuid4

from guestwall.cloud import validate as v
from guestwall.cloud.commit import enforce, finish
from guestwall.cloud.lookup import (
    GroupResolver,
    check_revision,
    default_of,
    ensure_default,
    group_name,
    resolve_port,
)
from guestwall.cloud.outcome import CloudContext, Outcome
from guestwall.cloud.revoke import Revoked
from guestwall.cloud.sync import Scope
from guestwall.cloud.validate import CloudConflict, CloudInputError
from guestwall.model.cloud import Address, Network, Port
from guestwall.model.mac import MacAddress
from guestwall.store.cloudrepo import CloudReader, cloud_reader, cloud_writer


@dataclass(frozen=True)
class PortChanges:
    """The fields of a port to change; None leaves a field as it is. The device, id and project of a port
    never change (Neutron: a port moves by being deleted and created)."""

    fixed_ips: tuple[Address, ...] | None = None
    allowed_address_pairs: tuple[Network, ...] | None = None
    security_groups: tuple[str, ...] | None = None  # ids or names, of the port's project
    mac: MacAddress | None = None
    port_security: bool | None = None
    dhcp_server: bool | None = None
    name: str | None = None
    device_id: str | None = None
    device_owner: str | None = None
    network_id: str | None = None
    host: str | None = None

    @classmethod
    def of(cls, changes: Mapping[str, object]) -> PortChanges:
        """From field names and values (a request body, command options); unknown fields are refused."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise CloudInputError(f"cannot change port field(s) {', '.join(unknown)}")
        return cls(**changes)  # type: ignore[arg-type]

    def applied_to(self, port: Port) -> Port:
        given = {f.name: getattr(self, f.name) for f in fields(self)}
        return replace(port, **{name: value for name, value in given.items() if value is not None})


def create_port(ctx: CloudContext, port: Port, *, default_group: bool = False) -> Outcome[Port]:
    """Store and enforce a port (its ``id`` may be empty: one is allocated). Groups are ids or names
    (of the port's project). With ``default_group``, a port without groups (and with port security) is
    put in its project's ``default`` group, as Neutron does when a port is created without any."""
    made = create_ports(ctx, [port], default_group=default_group)
    return Outcome(made.value[0], made.applied, made.killed, made.warnings)


def create_ports(
    ctx: CloudContext, ports: Sequence[Port], *, default_group: bool | Collection[str] = False
) -> Outcome[list[Port]]:
    """Several new ports in one store and one kernel transaction: all or none (a device or id that
    exists already is refused). The ports' projects get their ``default`` group if they have none.
    ``default_group``: True for every port, or the ids of the ports that go into it when they have no
    group (Neutron: a port created without ``security_groups``)."""
    ports = [v.checked_port(p) for p in ports]
    with ctx.store.write() as writer:
        repo = cloud_writer(writer)
        made_groups: set[str] = set()
        for project in sorted({p.project for p in ports}):
            default = ensure_default(repo, project)
            if default is not None:
                made_groups.add(default.id)
        done: list[Port] = []
        devices: set[str] = set()
        resolver = GroupResolver(repo)
        for port in ports:
            port = replace(port, id=port.id or str(uuid4()), name=port.name or port.device)
            if port.device in devices or repo.port_by_device(port.device) is not None:
                raise CloudConflict(f"port with device '{port.device}' already exists")
            if repo.port(port.id) is not None:
                raise CloudConflict(f"port '{port.id}' already exists")
            if writer.binding(port.device) is not None:
                raise CloudConflict(f"device '{port.device}' already has a filter binding (not a cloud port)")
            wants_default = default_group is True or (
                not isinstance(default_group, bool) and port.id in default_group
            )
            if wants_default and not port.security_groups and port.port_security:
                default = default_of(repo, port.project)
                assert default is not None
                port = replace(port, security_groups=(default.id,))
            devices.add(port.device)
            done.append(_checked(repo, port, resolver, by_device={}))  # its device was looked up above
        repo.put_ports(done)
        touched = {g for p in done for g in p.security_groups}
        moved = [(None, p) for p in done]
        scope = Scope(groups=made_groups, ports={p.id for p in done}, member_sets=touched, moved=moved)
        applied = enforce(ctx, writer, repo, scope)
        by_id = {p.id: p for p in repo.ports_by_id([p.id for p in done])}
    # a new port revokes nothing: its addresses only join sets, its device had no binding of ours
    return finish(ctx, [by_id[p.id] for p in done], applied)


def update_port(
    ctx: CloudContext, ref: str, changes: PortChanges, *, expect_revision: int | None = None
) -> Outcome[Port]:
    """Change a port's fields; access it (or its peers) loses is revoked at once."""
    with ctx.store.write() as writer:
        repo = cloud_writer(writer)
        old = resolve_port(repo, ref)
        check_revision("port", old.id, old.revision, expect_revision)
        # the device never changes: no other port can have it (no lookup)
        new = _checked(repo, v.checked_port(changes.applied_to(old)), by_device={old.device: old})
        repo.put_port(new)
        touched = set(old.security_groups) | set(new.security_groups)
        scope = Scope(ports={new.id}, member_sets=touched, moved=[(old, new)])
        applied = enforce(ctx, writer, repo, scope)
        # what the port and its peers lose is at its addresses: old and new, the flows at them decide
        affected = Revoked.of_ports([old, new]) if _revokes(old, new) else Revoked()
        stored = repo.port(new.id)
    return finish(ctx, stored or new, applied, affected)


def delete_port(ctx: CloudContext, ref: str, *, expect_revision: int | None = None) -> Outcome[Port]:
    with ctx.store.write() as writer:
        repo = cloud_writer(writer)
        port = resolve_port(repo, ref)
        check_revision("port", port.id, port.revision, expect_revision)
        repo.delete_port(port.id)
        groups = set(port.security_groups)
        scope = Scope(removed_devices={port.device}, member_sets=groups, moved=[(port, None)])
        applied = enforce(ctx, writer, repo, scope)
        affected = Revoked.of_ports([port])  # its addresses left its groups' sets: flows at them
    return finish(ctx, port, applied, affected)


def put_ports(ctx: CloudContext, ports: Sequence[Port], keep_groups: bool = False) -> Outcome[list[Port]]:
    """Create or update several ports (matched by device) in one store and one kernel transaction.
    With ``keep_groups`` an existing port keeps its groups (the given ones apply to new ports only).
    A device given twice is refused (which of the two would be stored is not for us to guess)."""
    ports = [v.checked_port(p) for p in ports]
    twice = sorted(device for device, n in Counter(p.device for p in ports).items() if n > 1)
    if twice:
        raise CloudInputError(f"port device(s) {', '.join(twice)} given more than once")
    with ctx.store.write() as writer:
        repo = cloud_writer(writer)
        given = {p.device for p in ports}  # only these are read: a Nova plug costs what its ports cost
        by_device = {p.device: p for p in repo.ports_by_devices(given)}
        bound = repo.bound_devices(given)
        resolver = GroupResolver(repo)
        done: list[Port] = []
        olds: list[Port] = []
        for port in ports:
            old = by_device.get(port.device)
            if old is None and port.device in bound:
                raise CloudConflict(f"device '{port.device}' already has a filter binding (not a cloud port)")
            port = replace(port, id=port.id or str(uuid4()), name=port.name or port.device)
            if old is not None:
                port = replace(port, id=old.id)
                if keep_groups:
                    port = replace(port, security_groups=old.security_groups)
                olds.append(old)
            done.append(_checked(repo, port, resolver, by_device))
        repo.put_ports(done)
        touched = {g for p in (*done, *olds) for g in p.security_groups}
        now = {p.id: p for p in done}
        was: dict[str, Port | None] = {old.id: old for old in olds}
        moved = [(was.get(p.id), p) for p in done]
        scope = Scope(ports=set(now), member_sets=touched, moved=moved)
        applied = enforce(ctx, writer, repo, scope)
        changed = [(old, now[old.id]) for old in olds if _revokes(old, now[old.id])]
        affected = Revoked.of_ports(p for pair in changed for p in pair)  # new ports revoke nothing
    return finish(ctx, done, applied, affected)


def delete_ports(ctx: CloudContext, refs: Sequence[str]) -> Outcome[list[Port]]:
    """Delete several ports in one store and one kernel transaction."""
    with ctx.store.write() as writer:
        repo = cloud_writer(writer)
        gone = [resolve_port(repo, ref) for ref in refs]
        for port in gone:
            repo.delete_port(port.id)
        groups = {g for p in gone for g in p.security_groups}
        moved = [(p, None) for p in gone]
        scope = Scope(removed_devices={p.device for p in gone}, member_sets=groups, moved=moved)
        applied = enforce(ctx, writer, repo, scope)
        affected = Revoked.of_ports(gone)
    return finish(ctx, gone, applied, affected)


def get_port(ctx: CloudContext, ref: str) -> Port:
    with ctx.store.read() as reader:
        return resolve_port(cloud_reader(reader), ref)


def list_ports(ctx: CloudContext, project: str | None = None) -> list[Port]:
    with ctx.store.read() as reader:
        return cloud_reader(reader).ports(project)


def ports_of_device(ctx: CloudContext, device_id: str) -> list[Port]:
    with ctx.store.read() as reader:
        return cloud_reader(reader).ports_of_device(device_id)


def ports_by_devices(ctx: CloudContext, devices: Collection[str]) -> list[Port]:
    """The ports with these devices (names), without reading the others."""
    with ctx.store.read() as reader:
        return cloud_reader(reader).ports_by_devices(devices)


def _checked(
    repo: CloudReader,
    port: Port,
    resolver: GroupResolver | None = None,
    by_device: dict[str, Port] | None = None,
) -> Port:
    """The port with its groups resolved to ids; refused without port security while it has groups or
    pairs, or when another port has its device."""
    resolver = resolver or GroupResolver(repo)
    groups = tuple(sorted({resolver(g, port.project) for g in port.security_groups}))
    if not port.port_security and (groups or port.allowed_address_pairs):
        blocking = [f"security group '{group_name(repo, g)}'" for g in groups]
        blocking += [f"allowed address pair {pair}" for pair in port.allowed_address_pairs]
        raise CloudInputError(
            f"port '{port.device}' cannot be without port security while it has {', '.join(blocking)}: "
            "remove them first (--no-security-group, --no-allowed-address-pair), as in Neutron"
        )
    other = by_device.get(port.device) if by_device is not None else repo.port_by_device(port.device)
    if other is not None and other.id != port.id:
        raise CloudConflict(f"port with device '{port.device}' already exists")
    return replace(port, security_groups=groups)


def _revokes(old: Port, new: Port) -> bool:
    """Whether changing ``old`` into ``new`` can take access away from anyone (else no flow needs killing)."""
    return bool(
        set(old.security_groups) - set(new.security_groups)
        or set(old.networks()) - set(new.networks())
        or (new.port_security and not old.port_security)
        or old.mac != new.mac
        or (old.dhcp_server and not new.dhcp_server)
    )
