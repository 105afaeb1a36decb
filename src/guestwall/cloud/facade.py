"""``Cloud``: the use cases of groups.py, rules.py, ports.py, blocks.py, addressgroups.py and refresh.py
bound to one ``CloudContext``, for callers that keep one (the REST API's state, the Nova driver, tests).
Each method is the module function of the same name: changes return their ``Outcome``, reads the objects.
It holds nothing but the context; the use cases live in their modules."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from guestwall.cloud import addressgroups, blocks, groups, ports, refresh, rules
from guestwall.cloud.conntrack import Conntrack
from guestwall.cloud.outcome import DEFAULT_PROJECT, CloudContext, Outcome
from guestwall.cloud.ports import PortChanges
from guestwall.cloud.rules import RuleSpec
from guestwall.dataplane.apply import ApplyResult
from guestwall.dataplane.backend import Backend
from guestwall.engine import Engine
from guestwall.model.cloud import AddressGroup, Network, Port, ProviderBlock, SecurityGroup, SecurityGroupRule
from guestwall.store.records import Store


class Cloud:
    """The cloud use cases on one store, enforced through one engine (``None``: reads only; a bare backend
    gets an engine with the store's host settings), killing revoked flows through ``conntrack``."""

    def __init__(
        self, store: Store, engine: Engine | Backend | None, conntrack: Conntrack | None = None
    ) -> None:
        wrapped = engine if engine is None or isinstance(engine, Engine) else Engine(engine)
        self.ctx = CloudContext(store, wrapped, conntrack)

    @property
    def store(self) -> Store:
        return self.ctx.store

    @property
    def engine(self) -> Engine | None:
        return self.ctx.engine

    # ---- security groups and rules ------------------------------------------------------------------

    def create_group(
        self,
        name: str,
        project: str = DEFAULT_PROJECT,
        description: str = "",
        *,
        member_ingress: bool = True,
        shared: bool = False,
    ) -> Outcome[SecurityGroup]:
        return groups.create_group(
            self.ctx, name, project, description, member_ingress=member_ingress, shared=shared
        )

    def create_groups(
        self,
        made: Sequence[tuple[str, str]],
        project: str = DEFAULT_PROJECT,
        *,
        member_ingress: bool = True,
        shared: bool = False,
    ) -> Outcome[list[SecurityGroup]]:
        return groups.create_groups(self.ctx, made, project, member_ingress=member_ingress, shared=shared)

    def ensure_default_group(self, project: str) -> Outcome[SecurityGroup]:
        return groups.ensure_default_group(self.ctx, project)

    def update_group(
        self,
        ref: str,
        project: str | None = None,
        *,
        expect_revision: int | None = None,
        name: str | None = None,
        description: str | None = None,
        shared: bool | None = None,
    ) -> Outcome[SecurityGroup]:
        return groups.update_group(
            self.ctx,
            ref,
            project,
            expect_revision=expect_revision,
            name=name,
            description=description,
            shared=shared,
        )

    def delete_group(
        self, ref: str, project: str | None = None, *, expect_revision: int | None = None
    ) -> Outcome[SecurityGroup]:
        return groups.delete_group(self.ctx, ref, project, expect_revision=expect_revision)

    def get_group(self, ref: str, project: str | None = None) -> SecurityGroup:
        return groups.get_group(self.ctx, ref, project)

    def list_groups(self, project: str | None = None) -> list[SecurityGroup]:
        return groups.list_groups(self.ctx, project)

    def create_rule(
        self, group_ref: str, spec: RuleSpec, project: str | None = None
    ) -> Outcome[SecurityGroupRule]:
        return rules.create_rule(self.ctx, group_ref, spec, project)

    def create_rules(
        self, specs: Sequence[tuple[str, RuleSpec]], project: str | None = None
    ) -> Outcome[list[SecurityGroupRule]]:
        return rules.create_rules(self.ctx, specs, project)

    def get_rule(self, ident: str) -> SecurityGroupRule:
        return rules.get_rule(self.ctx, ident)

    def delete_rule(self, ref: str) -> Outcome[SecurityGroupRule]:
        return rules.delete_rule(self.ctx, ref)

    # ---- ports --------------------------------------------------------------------------------------

    def create_port(self, port: Port, *, default_group: bool = False) -> Outcome[Port]:
        return ports.create_port(self.ctx, port, default_group=default_group)

    def create_ports(
        self, new: Sequence[Port], *, default_group: bool | Collection[str] = False
    ) -> Outcome[list[Port]]:
        return ports.create_ports(self.ctx, new, default_group=default_group)

    def update_port(
        self, ref: str, changes: PortChanges, *, expect_revision: int | None = None
    ) -> Outcome[Port]:
        return ports.update_port(self.ctx, ref, changes, expect_revision=expect_revision)

    def delete_port(self, ref: str, *, expect_revision: int | None = None) -> Outcome[Port]:
        return ports.delete_port(self.ctx, ref, expect_revision=expect_revision)

    def put_ports(self, given: Sequence[Port], keep_groups: bool = False) -> Outcome[list[Port]]:
        return ports.put_ports(self.ctx, given, keep_groups)

    def delete_ports(self, refs: Sequence[str]) -> Outcome[list[Port]]:
        return ports.delete_ports(self.ctx, refs)

    def get_port(self, ref: str) -> Port:
        return ports.get_port(self.ctx, ref)

    def list_ports(self, project: str | None = None) -> list[Port]:
        return ports.list_ports(self.ctx, project)

    def ports_of_device(self, device_id: str) -> list[Port]:
        return ports.ports_of_device(self.ctx, device_id)

    def ports_by_devices(self, devices: Collection[str]) -> list[Port]:
        return ports.ports_by_devices(self.ctx, devices)

    # ---- provider blocks and address groups ---------------------------------------------------------

    def block(
        self,
        cidr: Network,
        protocol: str | None = None,
        ports: tuple[int, int] | None = None,
        description: str = "",
        *,
        force: bool = False,
        log: bool = False,
    ) -> Outcome[ProviderBlock]:
        return blocks.block(self.ctx, cidr, protocol, ports, description, force=force, log=log)

    def unblock(
        self, ref: str, protocol: str | None = None, ports: tuple[int, int] | None = None
    ) -> Outcome[list[ProviderBlock]]:
        return blocks.unblock(self.ctx, ref, protocol, ports)

    def list_blocks(self) -> list[ProviderBlock]:
        return blocks.list_blocks(self.ctx)

    def create_address_group(
        self,
        name: str,
        project: str = DEFAULT_PROJECT,
        description: str = "",
        addresses: Sequence[Network] = (),
    ) -> Outcome[AddressGroup]:
        return addressgroups.create_address_group(self.ctx, name, project, description, addresses)

    def get_address_group(self, ident: str) -> AddressGroup:
        return addressgroups.get_address_group(self.ctx, ident)

    def list_address_groups(self, project: str | None = None) -> list[AddressGroup]:
        return addressgroups.list_address_groups(self.ctx, project)

    def update_address_group(
        self,
        ident: str,
        *,
        expect_revision: int | None = None,
        name: str | None = None,
        description: str | None = None,
        add: Sequence[Network] = (),
        remove: Sequence[Network] = (),
    ) -> Outcome[AddressGroup]:
        return addressgroups.update_address_group(
            self.ctx,
            ident,
            expect_revision=expect_revision,
            name=name,
            description=description,
            add=add,
            remove=remove,
        )

    def delete_address_group(
        self, ident: str, *, expect_revision: int | None = None
    ) -> Outcome[AddressGroup]:
        return addressgroups.delete_address_group(self.ctx, ident, expect_revision=expect_revision)

    # ---- refreshes ----------------------------------------------------------------------------------

    def refresh_group(self, group_id: str) -> Outcome[None]:
        return refresh.refresh_group(self.ctx, group_id)

    def refresh_members(self, group_id: str) -> Outcome[None]:
        return refresh.refresh_members(self.ctx, group_id)

    def refresh_ports(self, changed: Sequence[Port]) -> Outcome[None]:
        return refresh.refresh_ports(self.ctx, changed)

    def refresh_provider(self) -> Outcome[None]:
        return refresh.refresh_provider(self.ctx)

    def resync(self) -> Outcome[ApplyResult]:
        return refresh.resync(self.ctx)
