"""The cloud layer's use cases: ports, security groups and rules, provider blocks. Shared by the CLI, the
Nova-style driver and the REST API.

Each change is one store transaction: the cloud objects, the filters, address sets and bindings derived from
them (sync.py), and the kernel (enforced before commit through the same engine as every binding, so an error
anywhere leaves store and kernel as they were). After a change that can revoke access (a rule, a member or a
group removed, a block added), the tracked connections the new rules no longer allow are killed.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar
from uuid import uuid4

from guestwall.cloud import translate as tr
from guestwall.cloud import validate as v
from guestwall.cloud.conntrack import Conntrack, kill_disallowed
from guestwall.cloud.policy import Flow, Policy
from guestwall.cloud.sync import Scope, sync
from guestwall.cloud.validate import (
    CloudConflict,
    CloudInputError,
    CloudInUse,
    CloudNotFound,
    checked_rule_fields,
)
from guestwall.dataplane.apply import ApplyResult
from guestwall.dataplane.backend import Backend
from guestwall.engine import Change, Engine, FilterEdit, bound_port
from guestwall.errors import DataplaneError, RevisionMismatch
from guestwall.model import Filter
from guestwall.model.cloud import (
    DEFAULT_GROUP_NAME,
    AddressGroup,
    Ethertype,
    Network,
    Port,
    ProviderBlock,
    RuleDirection,
    SecurityGroup,
    SecurityGroupRule,
)
from guestwall.services.filters import load_filters
from guestwall.store.cloudrepo import CloudRepo
from guestwall.store.records import Store, Writer

DEFAULT_PROJECT = "default"
T = TypeVar("T")


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


@dataclass(frozen=True)
class Outcome:
    """What a change did: the kernel transaction and the connections killed because they lost their rule."""

    applied: ApplyResult | None
    killed: tuple[Flow, ...] = ()
    warnings: tuple[str, ...] = ()


class Cloud:
    """Use cases on one store, enforced through one backend (a network namespace's nftables)."""

    def __init__(
        self, store: Store, engine: Engine | Backend | None, conntrack: Conntrack | None = None
    ) -> None:
        """``engine`` None: reads only (changes raise); a bare backend gets an engine with the store's host
        settings."""
        self.store = store
        self.engine = engine if engine is None or isinstance(engine, Engine) else Engine(engine)
        self.conntrack = conntrack
        self.last = Outcome(None)

    # ---- plumbing -----------------------------------------------------------------------------------

    def _commit(
        self, writer: Writer, repo: CloudRepo, scope: Scope, *, full: bool = False, sets: Iterable[str] = ()
    ) -> ApplyResult:
        """Write what ``scope`` derives, then enforce it through the engine. ``full`` forces the full apply
        (a refresh: the kernel may lag the store, whatever this transaction wrote); ``sets`` are address
        sets to bring in step with the store in any case (element deltas against the kernel's copy)."""
        if self.engine is None:
            raise DataplaneError("no kernel backend to enforce the change with")
        before = load_filters(writer)
        changes = sync(writer, repo, scope)
        after = load_filters(writer) if changes.filters else before
        change = Change(
            filters=FilterEdit(before, after) if changes.filters else None,
            added=tuple(changes.come),
            # learned addresses of cloud ports are not kept: the records alone say what they held
            removed=tuple(bound_port(writer, old) for old in changes.gone),
            sets=frozenset(changes.sets | set(sets)),
            # the store knows how this change moved the sets it wrote; ``sets`` may lag: read back
            lagging=frozenset(sets),
            full=full,
        )
        return self.engine.apply(writer, change)

    def _kill(
        self, applied: ApplyResult, state: Policy | None, ports: Iterable[Port], peers: Network | None = None
    ) -> None:
        """After commit: a failure here cannot undo the change, so it becomes a warning."""
        killed: list[Flow] = []
        warnings: tuple[str, ...] = ()
        if state is not None and self.conntrack is not None:
            try:
                killed = kill_disallowed(self.conntrack, state, ports, peers)
            except DataplaneError as e:
                warnings = (f"the change is in effect, but open connections were not checked: {e}",)
        self.last = Outcome(applied, tuple(killed), warnings)

    @staticmethod
    def _policy(repo: CloudRepo, blocks: bool = False) -> Policy:
        """The cloud objects as they are now, for finding revoked flows. Provider blocks only when they
        changed: flows they block are dropped by the kernel anyway and were killed when the block came."""
        return Policy(repo.ports(), repo.groups(), repo.provider_blocks() if blocks else [])

    # ---- security groups ------------------------------------------------------------------------------

    def create_group(
        self,
        name: str,
        project: str = DEFAULT_PROJECT,
        description: str = "",
        *,
        member_ingress: bool = True,
        shared: bool = False,
    ) -> SecurityGroup:
        """A new group allows all egress and, with ``member_ingress``, ingress from its own members (as
        Neutron's default group; without it, only Neutron's two egress rules, as a new group in Neutron).
        The project's ``default`` group is created first if it does not exist yet."""
        made = self.create_groups(
            [(name, description)], project, member_ingress=member_ingress, shared=shared
        )
        return made[0]

    def create_groups(
        self,
        groups: Sequence[tuple[str, str]],
        project: str = DEFAULT_PROJECT,
        *,
        member_ingress: bool = True,
        shared: bool = False,
    ) -> list[SecurityGroup]:
        """Several groups (name, description) in one store and one kernel transaction: all or none."""
        for name, _ in groups:
            if not name.strip():
                raise CloudInputError("a security group needs a name")
        with self.store.write() as writer:
            repo = CloudRepo(writer)
            made: list[SecurityGroup] = []
            created: list[SecurityGroup] = []
            for name, description in groups:
                if name == DEFAULT_GROUP_NAME:
                    # asking for ``default`` is creating it: once per project, always Neutron's rules
                    default = self._ensure_default(repo, project, description)
                    if default is None:
                        raise CloudConflict(f"project '{project}' already has its default security group")
                    created.append(default)
                    continue
                group = _new_group(repo, name, project, description, member_ingress, shared)
                repo.add_group(group)
                created.append(group)
            default = self._ensure_default(repo, project)
            if default is not None:
                made.append(default)
            applied = self._commit(writer, repo, Scope(groups={g.id for g in (*made, *created)}))
            stored = [repo.group(g.id) for g in created]
        self.last = Outcome(applied)
        return [g for g in stored if g is not None]

    def ensure_default_group(self, project: str) -> SecurityGroup:
        """The project's ``default`` group, created as Neutron creates it when it does not exist yet: egress
        allowed, ingress from its own members (IPv4 and IPv6). Neutron does this when a project lists its
        groups or creates a port; so do the API and the cloud layer."""
        with self.store.read() as reader:
            found = _default_of(CloudRepo(reader), project)
        if found is not None:
            return found
        with self.store.write() as writer:
            repo = CloudRepo(writer)
            group = self._ensure_default(repo, project)
            if group is None:  # another writer was quicker
                existing = _default_of(repo, project)
                assert existing is not None
                return existing
            applied = self._commit(writer, repo, Scope(groups={group.id}))
        self.last = Outcome(applied)
        return group

    @staticmethod
    def _ensure_default(
        repo: CloudRepo, project: str, description: str = "Default security group"
    ) -> SecurityGroup | None:
        """Add the project's default group in the caller's transaction when missing; the new group or None."""
        if _default_of(repo, project) is not None:
            return None
        group = _new_group(repo, DEFAULT_GROUP_NAME, project, description, True, False)
        repo.add_group(group)
        return group

    def update_group(
        self,
        ref: str,
        project: str | None = None,
        *,
        expect_revision: int | None = None,
        name: str | None = None,
        description: str | None = None,
        shared: bool | None = None,
    ) -> SecurityGroup:
        """Rename a group, change its description or sharing; nothing in the kernel changes."""
        with self.store.write() as writer:
            repo = CloudRepo(writer)
            group = resolve_group(repo, ref, project)
            check_revision("security group", group.id, group.revision, expect_revision)
            fields: dict[str, object] = {}
            if name is not None:
                if not name.strip():
                    raise CloudInputError("a security group needs a name")
                if group.is_default and name != group.name:
                    raise CloudConflict("the default security group cannot be renamed")
                if name == DEFAULT_GROUP_NAME and not group.is_default:
                    raise CloudConflict(f"project '{group.project}' already has its default security group")
                fields["name"] = name
            if description is not None:
                fields["description"] = description
            if shared is not None:
                fields["shared"] = shared
            repo.update_group(group.id, **fields)
            updated = repo.group(group.id)
        assert updated is not None
        return updated

    def delete_group(
        self, ref: str, project: str | None = None, *, expect_revision: int | None = None
    ) -> SecurityGroup:
        """Remove a group no port is in; rules of other groups that name it as remote go with it."""
        with self.store.write() as writer:
            repo = CloudRepo(writer)
            group = resolve_group(repo, ref, project)
            check_revision("security group", group.id, group.revision, expect_revision)
            users = repo.group_in_use(group.id)
            if users:
                raise CloudInUse(f"security group '{group.name}' is in use by port(s) {', '.join(users)}")
            _refuse_if_filters_use(writer, group)
            referencing = {r.group_id for r in repo.rules_with_remote(group.id)} - {group.id}
            affected = [p for g in referencing for p in repo.ports_in_group(g)]
            repo.delete_group(group.id)
            applied = self._commit(writer, repo, Scope(groups={group.id, *referencing}))
            state = self._policy(repo) if affected else None
        self._kill(applied, state, affected)
        return group

    def get_group(self, ref: str, project: str | None = None) -> SecurityGroup:
        with self.store.read() as reader:
            return resolve_group(CloudRepo(reader), ref, project)

    def list_groups(self, project: str | None = None) -> list[SecurityGroup]:
        with self.store.read() as reader:
            return CloudRepo(reader).groups(project)

    def create_rule(self, group_ref: str, spec: RuleSpec, project: str | None = None) -> SecurityGroupRule:
        return self.create_rules([(group_ref, spec)], project)[0]

    def create_rules(
        self, specs: Sequence[tuple[str, RuleSpec]], project: str | None = None
    ) -> list[SecurityGroupRule]:
        """Several rules (group, spec) in one store and one kernel transaction: all or none."""
        with self.store.write() as writer:
            repo = CloudRepo(writer)
            made: list[SecurityGroupRule] = []
            for group_ref, spec in specs:
                made.append(self._add_rule(repo, resolve_group(repo, group_ref, project), spec))
            applied = self._commit(writer, repo, Scope(groups={r.group_id for r in made}))
            stored = [repo.rule(r.id) or r for r in made]
        self.last = Outcome(applied)
        return stored

    @staticmethod
    def _add_rule(repo: CloudRepo, group: SecurityGroup, spec: RuleSpec) -> SecurityGroupRule:
        spec = checked_spec(spec)
        remote = resolve_group(repo, spec.remote_group, group.project).id if spec.remote_group else None
        address_group = None
        if spec.remote_address_group is not None:
            address_group = _address_group(repo, spec.remote_address_group).id
        checked_rule_fields(
            spec.protocol,
            spec.ports,
            spec.icmp_type,
            spec.icmp_code,
            spec.remote_cidr,
            remote,
            spec.ethertype,
        )
        if address_group is not None and (remote is not None or spec.remote_cidr is not None):
            raise CloudInputError(
                "a rule has one remote side: an IP prefix, a remote group or an address group"
            )
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
            remote_address_group_id=address_group,
            log=spec.log,
        )
        current = repo.group(group.id)
        for existing in current.rules if current is not None else group.rules:
            if existing.same_match(rule):
                raise CloudConflict(f"security group '{group.name}' already has this rule ({existing.id})")
        repo.add_rule(rule)
        return rule

    def get_rule(self, ident: str) -> SecurityGroupRule:
        """A rule by its exact id."""
        with self.store.read() as reader:
            found = CloudRepo(reader).rule(ident)
        if found is None:
            raise CloudNotFound(f"unknown security group rule '{ident}'")
        return found

    def delete_rule(self, ref: str) -> SecurityGroupRule:
        with self.store.write() as writer:
            repo = CloudRepo(writer)
            rule = _resolve(
                ref, [r for g in repo.groups() for r in g.rules], lambda r: r.id, "security group rule"
            )
            repo.delete_rule(rule.id)
            applied = self._commit(writer, repo, Scope(groups={rule.group_id}))
            affected = repo.ports_in_group(rule.group_id)
            state = self._policy(repo) if affected else None
        self._kill(applied, state, affected)
        return rule

    # ---- ports ----------------------------------------------------------------------------------------

    def create_port(self, port: Port, *, default_group: bool = False) -> Port:
        """Store and enforce a port (its ``id`` may be empty: one is allocated). Groups are ids or names
        (of the port's project). With ``default_group``, a port without groups (and with port security) is
        put in its project's ``default`` group, as Neutron does when a port is created without any."""
        return self.create_ports([port], default_group=default_group)[0]

    def create_ports(
        self, ports: Sequence[Port], *, default_group: bool | Collection[str] = False
    ) -> list[Port]:
        """Several new ports in one store and one kernel transaction: all or none (a device or id that
        exists already is refused). The ports' projects get their ``default`` group if they have none.
        ``default_group``: True for every port, or the ids of the ports that go into it when they have no
        group (Neutron: a port created without ``security_groups``)."""
        ports = [v.checked_port(p) for p in ports]
        with self.store.write() as writer:
            repo = CloudRepo(writer)
            made_groups: set[str] = set()
            for project in sorted({p.project for p in ports}):
                default = self._ensure_default(repo, project)
                if default is not None:
                    made_groups.add(default.id)
            done: list[Port] = []
            devices: set[str] = set()
            for port in ports:
                port = replace(port, id=port.id or str(uuid4()), name=port.name or port.device)
                if port.device in devices or repo.port_by_device(port.device) is not None:
                    raise CloudConflict(f"port with device '{port.device}' already exists")
                if repo.port(port.id) is not None:
                    raise CloudConflict(f"port '{port.id}' already exists")
                if writer.binding(port.device) is not None:
                    raise CloudConflict(
                        f"device '{port.device}' already has a filter binding (not a cloud port)"
                    )
                wants_default = default_group is True or (
                    not isinstance(default_group, bool) and port.id in default_group
                )
                if wants_default and not port.security_groups and port.port_security:
                    default = _default_of(repo, port.project)
                    assert default is not None
                    port = replace(port, security_groups=(default.id,))
                devices.add(port.device)
                done.append(self._checked_port(repo, port))
            repo.put_ports(done)
            touched = {g for p in done for g in p.security_groups}
            scope = Scope(groups=made_groups, ports={p.id for p in done}, member_sets=touched)
            applied = self._commit(writer, repo, scope)
            state = self._policy(repo)
            stored = repo.ports_by_id([p.id for p in done])
        self._kill(applied, state, done)
        by_id = {p.id: p for p in stored}
        return [by_id[p.id] for p in done]

    def update_port(self, ref: str, *, expect_revision: int | None = None, **changes: object) -> Port:
        """Change a port's fields (``fixed_ips``, ``allowed_address_pairs``, ``security_groups``, ``mac``,
        ``port_security``, ``dhcp_server``, ``name``); access it loses is revoked at once."""
        allowed = {
            "fixed_ips",
            "allowed_address_pairs",
            "security_groups",
            "mac",
            "port_security",
            "dhcp_server",
            "name",
            "device_id",
            "device_owner",
            "network_id",
            "host",
        }
        unknown = set(changes) - allowed
        if unknown:
            raise CloudInputError(f"cannot change port field(s) {', '.join(sorted(unknown))}")
        with self.store.write() as writer:
            repo = CloudRepo(writer)
            old = resolve_port(repo, ref)
            check_revision("port", old.id, old.revision, expect_revision)
            new = self._checked_port(repo, v.checked_port(replace(old, **changes)))  # type: ignore[arg-type]
            repo.put_port(new)
            touched = set(old.security_groups) | set(new.security_groups)
            applied = self._commit(writer, repo, Scope(ports={new.id}, member_sets=touched))
            revokes = _revokes(old, new)
            affected = [new, old, *self._referencing_ports(repo, touched)] if revokes else []
            state = self._policy(repo) if revokes else None
            stored = repo.port(new.id)
        self._kill(applied, state, affected)
        return stored or new

    def delete_port(self, ref: str, *, expect_revision: int | None = None) -> Port:
        with self.store.write() as writer:
            repo = CloudRepo(writer)
            port = resolve_port(repo, ref)
            check_revision("port", port.id, port.revision, expect_revision)
            repo.delete_port(port.id)
            scope = Scope(removed_devices={port.device}, member_sets=set(port.security_groups))
            applied = self._commit(writer, repo, scope)
            affected = [port, *self._referencing_ports(repo, set(port.security_groups))]
            state = self._policy(repo)
        self._kill(applied, state, affected)
        return port

    def put_ports(self, ports: Sequence[Port], keep_groups: bool = False) -> list[Port]:
        """Create or update several ports (matched by device) in one store and one kernel transaction.
        With ``keep_groups`` an existing port keeps its groups (the given ones apply to new ports only)."""
        ports = [v.checked_port(p) for p in ports]
        with self.store.write() as writer:
            repo = CloudRepo(writer)
            by_device = {p.device: p for p in repo.ports()}
            bound = repo.bound_devices()
            resolve = _GroupResolver(repo)
            done: list[Port] = []
            olds: list[Port] = []
            for port in ports:
                old = by_device.get(port.device)
                if old is None and port.device in bound:
                    raise CloudConflict(
                        f"device '{port.device}' already has a filter binding (not a cloud port)"
                    )
                port = replace(port, id=port.id or str(uuid4()), name=port.name or port.device)
                if old is not None:
                    port = replace(port, id=old.id)
                    if keep_groups:
                        port = replace(port, security_groups=old.security_groups)
                    olds.append(old)
                done.append(self._checked_port(repo, port, resolve, by_device))
            repo.put_ports(done)
            touched = {g for p in (*done, *olds) for g in p.security_groups}
            applied = self._commit(writer, repo, Scope(ports={p.id for p in done}, member_sets=touched))
            affected = [*done, *olds, *self._referencing_ports(repo, touched)]
            state = self._policy(repo)
        self._kill(applied, state, affected)
        return done

    def delete_ports(self, refs: Sequence[str]) -> list[Port]:
        """Delete several ports in one store and one kernel transaction."""
        with self.store.write() as writer:
            repo = CloudRepo(writer)
            gone = [resolve_port(repo, ref) for ref in refs]
            for port in gone:
                repo.delete_port(port.id)
            groups = {g for p in gone for g in p.security_groups}
            scope = Scope(removed_devices={p.device for p in gone}, member_sets=groups)
            applied = self._commit(writer, repo, scope)
            affected = [*gone, *self._referencing_ports(repo, groups)]
            state = self._policy(repo) if gone else None
        self._kill(applied, state, affected)
        return gone

    def ports_of_device(self, device_id: str) -> list[Port]:
        with self.store.read() as reader:
            return CloudRepo(reader).ports_of_device(device_id)

    def get_port(self, ref: str) -> Port:
        with self.store.read() as reader:
            return resolve_port(CloudRepo(reader), ref)

    def list_ports(self, project: str | None = None) -> list[Port]:
        with self.store.read() as reader:
            return CloudRepo(reader).ports(project)

    def _checked_port(
        self,
        repo: CloudRepo,
        port: Port,
        resolve: _GroupResolver | None = None,
        by_device: dict[str, Port] | None = None,
    ) -> Port:
        resolve = resolve or _GroupResolver(repo)
        groups = tuple(sorted({resolve(g, port.project) for g in port.security_groups}))
        if not port.port_security and (groups or port.allowed_address_pairs):
            blocking = [f"security group '{_group_name(repo, g)}'" for g in groups]
            blocking += [f"allowed address pair {pair}" for pair in port.allowed_address_pairs]
            raise CloudInputError(
                f"port '{port.device}' cannot be without port security while it has {', '.join(blocking)}: "
                "remove them first (--no-security-group, --no-allowed-address-pair), as in Neutron"
            )
        other = by_device.get(port.device) if by_device is not None else repo.port_by_device(port.device)
        if other is not None and other.id != port.id:
            raise CloudConflict(f"port with device '{port.device}' already exists")
        return replace(port, security_groups=groups)

    @staticmethod
    def _referencing_ports(repo: CloudRepo, groups: set[str]) -> list[Port]:
        """Ports in groups that name any of ``groups`` as remote (their access depends on its members)."""
        referencing = {r.group_id for g in groups for r in repo.rules_with_remote(g)}
        return [p for g in sorted(referencing) for p in repo.ports_in_group(g)]

    # ---- provider blocks ------------------------------------------------------------------------------

    def block(
        self,
        cidr: Network,
        protocol: str | None = None,
        ports: tuple[int, int] | None = None,
        description: str = "",
        *,
        force: bool = False,
        log: bool = False,
    ) -> ProviderBlock:
        """Block a CIDR (optionally one protocol and port range) for every guest, ahead of all groups.
        Blocking every address (0.0.0.0/0, ::/0) cuts every guest off: it needs ``force``."""
        cidr = v.checked_network(cidr, "CIDR")
        if cidr.prefixlen == 0 and not force:
            raise CloudInputError(
                f"blocking {cidr} cuts every guest off from every address: give --force if that is meant"
            )
        ports = v.checked_ports(ports)
        if protocol is not None and not isinstance(protocol, str):
            raise CloudInputError(f"invalid protocol {protocol!r} for a provider block")
        protocol = protocol.lower() if protocol is not None and protocol.lower() not in ("any", "") else None
        if ports is not None and protocol not in ("tcp", "udp"):
            raise CloudInputError(
                f"a port range needs protocol tcp or udp (the block's protocol is {protocol or 'any'})"
            )
        if protocol not in (None, "tcp", "udp", "icmp"):
            raise CloudInputError(
                f"invalid protocol '{protocol}' for a provider block: expected any, tcp, udp or icmp"
            )
        lo, hi = ports if ports is not None else (None, None)
        block = ProviderBlock(str(uuid4()), cidr, protocol, lo, hi, description, log)
        with self.store.write() as writer:
            repo = CloudRepo(writer)
            for existing in repo.provider_blocks(cidr):
                if existing.kind == block.kind:
                    raise CloudConflict(f"{_describe_block(existing)} is already blocked ({existing.id})")
            covered = tuple(
                f"{_describe_block(block)} is already covered by the block of {_describe_block(other)} "
                f"({other.id}); it takes effect if that one goes"
                for other in repo.provider_blocks_around(cidr)
                if other.kind == block.kind
            )
            repo.add_provider_block(block)
            applied = self._commit(writer, repo, Scope(provider=True, blocks_added=[block]))
            ports_now = repo.ports()
            # only flows with an end in the new block's CIDR are looked at: the new block decides them
            state = Policy(ports_now, repo.groups(), [block])
        self._kill(applied, state, ports_now, peers=cidr)
        self.last = replace(self.last, warnings=covered + self.last.warnings)
        return block

    def unblock(
        self, ref: str, protocol: str | None = None, ports: tuple[int, int] | None = None
    ) -> list[ProviderBlock]:
        """Remove a block by id (or its start), or by CIDR (with protocol and ports as given to block)."""
        with self.store.write() as writer:
            repo = CloudRepo(writer)
            gone = _blocks_matching(repo, ref, protocol, ports)
            for block in gone:
                repo.delete_provider_block(block.id)
            applied = self._commit(writer, repo, Scope(provider=True, blocks_removed=gone))
        self.last = Outcome(applied)
        return gone

    def list_blocks(self) -> list[ProviderBlock]:
        with self.store.read() as reader:
            return CloudRepo(reader).provider_blocks()

    # ---- address groups (Neutron's: CIDRs a rule names as its remote side; a kernel set) ----------------

    def create_address_group(
        self,
        name: str,
        project: str = DEFAULT_PROJECT,
        description: str = "",
        addresses: Sequence[Network] = (),
    ) -> AddressGroup:
        group = AddressGroup(str(uuid4()), name, project, description, tuple(dict.fromkeys(addresses)))
        with self.store.write() as writer:
            repo = CloudRepo(writer)
            repo.put_address_group(group)
            applied = self._commit(writer, repo, Scope(address_groups={group.id}))
            stored = repo.address_group(group.id)
        self.last = Outcome(applied)
        assert stored is not None
        return stored

    def get_address_group(self, ident: str) -> AddressGroup:
        with self.store.read() as reader:
            return _address_group(CloudRepo(reader), ident)

    def list_address_groups(self, project: str | None = None) -> list[AddressGroup]:
        with self.store.read() as reader:
            return CloudRepo(reader).address_groups(project)

    def update_address_group(
        self,
        ident: str,
        *,
        expect_revision: int | None = None,
        name: str | None = None,
        description: str | None = None,
        add: Sequence[Network] = (),
        remove: Sequence[Network] = (),
    ) -> AddressGroup:
        """Rename, describe, add or remove addresses (Neutron's ``add_addresses``/``remove_addresses``);
        connections that removed addresses were allowed by are killed."""
        with self.store.write() as writer:
            repo = CloudRepo(writer)
            group = _address_group(repo, ident)
            check_revision("address group", group.id, group.revision, expect_revision)
            missing = [str(n) for n in remove if n not in group.addresses]
            if missing:
                raise CloudNotFound(
                    f"address group {group.id} does not have address(es) {', '.join(missing)}"
                )
            gone = set(remove)
            addresses = tuple(n for n in dict.fromkeys((*group.addresses, *add)) if n not in gone)
            new = replace(
                group,
                name=group.name if name is None else name,
                description=group.description if description is None else description,
                addresses=addresses,
            )
            repo.put_address_group(new)
            applied = self._commit(writer, repo, Scope(address_groups={group.id}))
            users = {r.group_id for r in repo.rules_with_remote_address_group(group.id)}
            affected = [p for g in sorted(users) for p in repo.ports_in_group(g)] if gone else []
            state = self._policy(repo) if affected else None
            stored = repo.address_group(group.id)
        self._kill(applied, state, affected)
        assert stored is not None
        return stored

    def delete_address_group(self, ident: str, *, expect_revision: int | None = None) -> AddressGroup:
        """Remove an address group that no rule names (Neutron: AddressGroupInUse)."""
        with self.store.write() as writer:
            repo = CloudRepo(writer)
            group = _address_group(repo, ident)
            check_revision("address group", group.id, group.revision, expect_revision)
            users = repo.rules_with_remote_address_group(group.id)
            if users:
                rules = ", ".join(r.id for r in users)
                raise CloudInUse(f"address group '{group.name}' is in use by security group rule(s) {rules}")
            repo.delete_address_group(group.id)
            applied = self._commit(writer, repo, Scope(address_groups={group.id}))
        self.last = Outcome(applied)
        return group

    # ---- refreshes: make store and kernel follow cloud objects changed elsewhere (another host, SQL) ----

    def refresh_group(self, group_id: str) -> None:
        """A group's rules changed: rewrite its filter, enforce, kill flows its ports lost."""
        with self.store.write() as writer:
            repo = CloudRepo(writer)
            applied = self._commit(writer, repo, Scope(groups={group_id}), full=True)
            affected = repo.ports_in_group(group_id)
            state = self._policy(repo) if affected else None
        self._kill(applied, state, affected)

    def refresh_members(self, group_id: str) -> None:
        """A group's members changed: rewrite its address set, enforce, kill flows that lost access."""
        with self.store.write() as writer:
            repo = CloudRepo(writer)
            # element deltas against what the kernel holds, so also right when the store changed earlier
            applied = self._commit(
                writer, repo, Scope(member_sets={group_id}), sets={tr.group_set_name(group_id)}
            )
            affected = self._referencing_ports(repo, {group_id})
            state = self._policy(repo) if affected else None
        self._kill(applied, state, affected)

    def refresh_ports(self, ports: Sequence[Port]) -> None:
        """Ports changed: rewrite their bindings and their groups' sets, enforce, kill what they lost."""
        with self.store.write() as writer:
            repo = CloudRepo(writer)
            groups = {g for p in ports for g in p.security_groups}
            scope = Scope(ports={p.id for p in ports}, member_sets=groups)
            applied = self._commit(writer, repo, scope, full=True)
            affected = [*ports, *self._referencing_ports(repo, groups)]
            state = self._policy(repo) if affected else None
        self._kill(applied, state, affected)

    def refresh_provider(self) -> None:
        """Provider blocks changed: rewrite the provider filter and sets, enforce, kill blocked flows."""
        with self.store.write() as writer:
            repo = CloudRepo(writer)
            applied = self._commit(writer, repo, Scope(provider=True), full=True)
            affected = repo.ports()
            state = self._policy(repo, blocks=True) if affected and repo.provider_blocks() else None
        self._kill(applied, state, affected)

    # ---- whole state --------------------------------------------------------------------------------

    def resync(self) -> ApplyResult:
        """Rewrite everything derived from the cloud objects (after an upgrade, a manual edit), enforce."""
        with self.store.write() as writer:
            repo = CloudRepo(writer)
            applied = self._commit(writer, repo, Scope(everything=True), full=True)
        self.last = Outcome(applied)
        return applied


class _GroupResolver:
    """resolve_group with the answers of one transaction remembered (many ports name the same groups)."""

    def __init__(self, repo: CloudRepo) -> None:
        self.repo = repo
        self.known: dict[tuple[str, str], str] = {}

    def __call__(self, ref: str, project: str) -> str:
        key = (ref, project)
        if key not in self.known:
            self.known[key] = resolve_group(self.repo, ref, project).id
        return self.known[key]


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


def _refuse_if_filters_use(reader: Writer, group: SecurityGroup) -> None:
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


def _group_name(repo: CloudRepo, group_id: str) -> str:
    group = repo.group(group_id)
    return group.name if group is not None else group_id


def _revokes(old: Port, new: Port) -> bool:
    """Whether changing ``old`` into ``new`` can take access away from anyone (else no flow needs killing)."""
    return bool(
        set(old.security_groups) - set(new.security_groups)
        or set(old.networks()) - set(new.networks())
        or (new.port_security and not old.port_security)
        or old.mac != new.mac
        or (old.dhcp_server and not new.dhcp_server)
    )


def check_revision(what: str, ident: str, current: int, expected: int | None) -> None:
    """Neutron's If-Match: a change conditioned on a revision the object no longer has is refused."""
    if expected is not None and expected != current:
        raise RevisionMismatch(
            f"{what} {ident} is at revision {current}, not {expected} as the request requires (If-Match)"
        )


def _default_of(repo: CloudRepo, project: str) -> SecurityGroup | None:
    defaults = [g for g in repo.groups(project) if g.is_default]
    return defaults[0] if defaults else None


def _new_group(
    repo: CloudRepo, name: str, project: str, description: str, member_ingress: bool, shared: bool
) -> SecurityGroup:
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


def _resolve(
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


def resolve_group(repo: CloudRepo, ref: str, project: str | None = None) -> SecurityGroup:
    """A group by id, by name (in ``project`` when given), or by a unique start of its id."""
    found = repo.group(ref)
    if found is not None:
        return found
    groups = repo.groups(project) if project is not None else repo.groups()
    return _resolve(ref, groups, lambda g: g.id, "security group", lambda g: g.name)


def _address_group(repo: CloudRepo, ident: str) -> AddressGroup:
    """An address group by its exact id."""
    found = repo.address_group(ident)
    if found is None:
        raise CloudNotFound(f"unknown address group '{ident}'")
    return found


def resolve_port(repo: CloudRepo, ref: str) -> Port:
    """A port by device, by id, by unique name, or by a unique start of its id."""
    found = repo.port_by_device(ref) or repo.port(ref)
    if found is not None:
        return found
    return _resolve(ref, repo.ports(), lambda p: p.id, "port", lambda p: p.name)


def _blocks_matching(
    repo: CloudRepo, ref: str, protocol: str | None, ports: tuple[int, int] | None
) -> list[ProviderBlock]:
    """The blocks ``ref`` names: a CIDR (with the protocol and ports it was blocked with), or an id."""
    from guestwall.cloud.validate import network

    if "/" in ref or ":" in ref or ref.count(".") == 3:
        cidr = network(ref)
        lo, hi = ports if ports is not None else (None, None)
        found = [b for b in repo.provider_blocks(cidr) if b.kind == (protocol, lo, hi)]
        if not found:
            what = _describe_block(ProviderBlock("", cidr, protocol, lo, hi))
            raise CloudNotFound(f"{what} is not blocked")
        return found
    block = repo.provider_block(_resolve(ref, repo.provider_block_ids(), lambda i: i, "provider block"))
    return [block] if block is not None else []


def _describe_block(block: ProviderBlock) -> str:
    text = str(block.cidr)
    if block.protocol is not None:
        text += f" {block.protocol}"
    if block.port_min is not None:
        text += f" port {block.port_min}" + (f":{block.port_max}" if block.port_max != block.port_min else "")
    return text
