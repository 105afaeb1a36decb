"""The SQL implementation of the cloud layer's reader and writer (store/cloudrepo.py): the cloud tables as
one SQLAlchemy session sees them, changes flushed into the caller's transaction."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any, TypeVar

from sqlalchemy import bindparam, delete, or_, select
from sqlalchemy.orm import Session

from guestwall.errors import NotFoundError, StoreError
from guestwall.model.cloud import (
    Address,
    AddressGroup,
    BlockKind,
    Network,
    Port,
    ProviderBlock,
    SecurityGroup,
    SecurityGroupRule,
)
from guestwall.store.cloudrows import (
    BLOCK_COLUMNS,
    MEMBERSHIP,
    PORT_COLUMNS,
    address_group_of,
    address_of,
    group_of,
    network_of,
    now,
    port_of,
    rule_of,
    split,
)
from guestwall.store.cloudtables import (
    AddressGroupRow,
    PortRow,
    PortSecurityGroupRow,
    ProviderBlockRow,
    SecurityGroupRow,
    SecurityGroupRuleRow,
)

_Row = TypeVar("_Row")
WRITE_ONLY = "cloud objects can only be changed in a write transaction"


class CloudRepo:
    """The cloud tables as seen by one SQL session (implements CloudReader, and CloudWriter when given
    ``mark``, called after each change). Get one with cloud_reader or cloud_writer."""

    def __init__(self, session: Session, host: str, mark: Callable[[], None] | None = None) -> None:
        self.session = session
        self.host = host
        self._mark = mark

    def _changed(self) -> None:
        if self._mark is None:
            raise StoreError(WRITE_ONLY)
        self._mark()

    def _existing(self, table: type[_Row], ident: str, what: str) -> _Row:
        """The stored row of ``table`` with this id; NotFoundError naming ``what`` when there is none."""
        row = self.session.get(table, ident)
        if row is None:
            raise NotFoundError(f"no {what} '{ident}'")
        return row

    # ---- security groups and rules ------------------------------------------------------------------

    def groups(self, project: str | None = None) -> list[SecurityGroup]:
        query = select(SecurityGroupRow).order_by(
            SecurityGroupRow.project, SecurityGroupRow.name, SecurityGroupRow.id
        )
        if project is not None:
            query = query.where(SecurityGroupRow.project == project)
        rows = list(self.session.scalars(query))
        rules = self._rules_of([row.id for row in rows] if project is not None else None)
        return [group_of(row, rules.get(row.id, ())) for row in rows]

    def groups_named(self, name: str, project: str | None = None) -> list[SecurityGroup]:
        """The groups with this name (of ``project`` when given), in ``groups``' order; only their rules
        are read."""
        query = (
            select(SecurityGroupRow)
            .where(SecurityGroupRow.name == name)
            .order_by(SecurityGroupRow.project, SecurityGroupRow.name, SecurityGroupRow.id)
        )
        if project is not None:
            query = query.where(SecurityGroupRow.project == project)
        rows = list(self.session.scalars(query))
        rules = self._rules_of([row.id for row in rows]) if rows else {}
        return [group_of(row, rules.get(row.id, ())) for row in rows]

    def group_ids(self) -> list[str]:
        return list(self.session.scalars(select(SecurityGroupRow.id)))

    def has_group(self, group_id: str) -> bool:
        return self.session.get(SecurityGroupRow, group_id) is not None

    def group(self, group_id: str) -> SecurityGroup | None:
        row = self.session.get(SecurityGroupRow, group_id)
        if row is None:
            return None
        return group_of(row, self._rules_of([group_id]).get(group_id, ()))

    def _rules_of(self, group_ids: list[str] | None) -> dict[str, list[SecurityGroupRule]]:
        query = select(SecurityGroupRuleRow).order_by(
            SecurityGroupRuleRow.created_at, SecurityGroupRuleRow.id
        )
        if group_ids is not None:
            query = query.where(SecurityGroupRuleRow.group_id.in_(group_ids))
        out: dict[str, list[SecurityGroupRule]] = {}
        for row in self.session.scalars(query):
            out.setdefault(row.group_id, []).append(rule_of(row))
        return out

    def rule(self, rule_id: str) -> SecurityGroupRule | None:
        row = self.session.get(SecurityGroupRuleRow, rule_id)
        return None if row is None else rule_of(row)

    def rules_with_remote(self, group_id: str) -> list[SecurityGroupRule]:
        """Rules (of any group) whose remote side is this group's members."""
        query = select(SecurityGroupRuleRow).where(SecurityGroupRuleRow.remote_group_id == group_id)
        return [rule_of(row) for row in self.session.scalars(query)]

    def add_group(self, group: SecurityGroup) -> None:
        self.session.add(
            SecurityGroupRow(
                id=group.id,
                name=group.name,
                project=group.project,
                description=group.description,
                shared=group.shared,
                revision_number=0,
                created_at=now(),
            )
        )
        self.session.flush()
        for rule in group.rules:
            self.add_rule(rule, bump=False)
        self._changed()

    def update_group(
        self,
        group_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        shared: bool | None = None,
    ) -> None:
        """Change a group's own fields (those not None); its revision goes up by one."""
        row = self._existing(SecurityGroupRow, group_id, "security group")
        if name is not None:
            row.name = name
        if description is not None:
            row.description = description
        if shared is not None:
            row.shared = shared
        self._bump(row)

    def _bump(self, row: SecurityGroupRow | PortRow | AddressGroupRow) -> None:
        """Neutron's revision_number: one more per change of the object (a group's rules included)."""
        row.revision_number = (row.revision_number or 0) + 1
        row.updated_at = now()
        self.session.flush()
        self._changed()

    def delete_group(self, group_id: str) -> None:
        row = self._existing(SecurityGroupRow, group_id, "security group")
        # explicit, so that it does not depend on the backend enforcing ON DELETE CASCADE
        self.session.execute(
            delete(SecurityGroupRuleRow).where(SecurityGroupRuleRow.remote_group_id == group_id)
        )
        self.session.execute(delete(SecurityGroupRuleRow).where(SecurityGroupRuleRow.group_id == group_id))
        self.session.delete(row)
        self.session.flush()
        self._changed()

    def add_rule(self, rule: SecurityGroupRule, bump: bool = True) -> None:
        """Add a rule; its group's revision goes up (not when the group is being created with it)."""
        self.session.add(
            SecurityGroupRuleRow(
                id=rule.id,
                group_id=rule.group_id,
                direction=rule.direction.value,
                ethertype=rule.ethertype.value,
                protocol=rule.protocol,
                port_min=rule.port_min,
                port_max=rule.port_max,
                icmp_type=rule.icmp_type,
                icmp_code=rule.icmp_code,
                remote_cidr=None if rule.remote_cidr is None else str(rule.remote_cidr),
                remote_group_id=rule.remote_group_id,
                remote_address_group_id=rule.remote_address_group_id,
                description=rule.description,
                log=rule.log,
                created_at=now(),
            )
        )
        self.session.flush()
        group = self.session.get(SecurityGroupRow, rule.group_id)
        if bump and group is not None:
            self._bump(group)
        self._changed()

    def delete_rule(self, rule_id: str) -> None:
        row = self._existing(SecurityGroupRuleRow, rule_id, "security group rule")
        group = self.session.get(SecurityGroupRow, row.group_id)
        self.session.delete(row)
        self.session.flush()
        if group is not None:
            self._bump(group)
        self._changed()

    def rules_with_remote_address_group(self, address_group_id: str) -> list[SecurityGroupRule]:
        query = select(SecurityGroupRuleRow).where(
            SecurityGroupRuleRow.remote_address_group_id == address_group_id
        )
        return [rule_of(row) for row in self.session.scalars(query)]

    # ---- ports --------------------------------------------------------------------------------------

    def ports(self, project: str | None = None) -> list[Port]:
        query = select(*PORT_COLUMNS).order_by(PortRow.device)
        if project is not None:
            query = query.where(PortRow.project == project)
        return self._ports(query, select(*MEMBERSHIP))

    def _ports(self, query: Any, links: Any) -> list[Port]:
        """Ports from plain rows (``query`` of PORT_COLUMNS) with their groups (``links`` of MEMBERSHIP):
        building ORM objects for a thousand ports costs more than the rest of a change."""
        rows = list(self.session.execute(query))
        memberships: dict[str, list[str]] = {}
        for port_id, group_id in self.session.execute(links):
            memberships.setdefault(port_id, []).append(group_id)
        return [port_of(row, memberships.get(row.id, ())) for row in rows]

    def port(self, port_id: str) -> Port | None:
        row = self.session.get(PortRow, port_id)
        return None if row is None else port_of(row, self._groups_of(port_id))

    def port_by_device(self, device: str) -> Port | None:
        row = self.session.scalars(select(PortRow).where(PortRow.device == device)).one_or_none()
        return None if row is None else port_of(row, self._groups_of(row.id))

    def ports_by_devices(self, devices: Iterable[str]) -> list[Port]:
        """The ports with these devices (names), by device: one query, whatever the number of ports."""
        wanted = sorted(set(devices))
        if not wanted:
            return []
        query = select(*PORT_COLUMNS).where(PortRow.device.in_(wanted)).order_by(PortRow.device)
        links = (
            select(*MEMBERSHIP)
            .join(PortRow, PortRow.id == PortSecurityGroupRow.port_id)
            .where(PortRow.device.in_(wanted))
        )
        return self._ports(query, links)

    def ports_of_device(self, device_id: str) -> list[Port]:
        """The ports that belong to one device (an instance), by device name."""
        rows = list(
            self.session.scalars(
                select(PortRow).where(PortRow.device_id == device_id).order_by(PortRow.device)
            )
        )
        return [port_of(row, self._groups_of(row.id)) for row in rows]

    def ports_in_group(self, group_id: str) -> list[Port]:
        query = select(PortSecurityGroupRow.port_id).where(PortSecurityGroupRow.group_id == group_id)
        return self.ports_by_id(self.session.scalars(query))

    def member_networks(self, group_id: str) -> list[Network]:
        """The networks (fixed addresses and pairs) of a group's members, without building ports (each
        text parsed once per process: a thousand members are read by every change of the group)."""
        query = (
            select(PortRow.fixed_ips, PortRow.allowed_address_pairs)
            .join(PortSecurityGroupRow, PortSecurityGroupRow.port_id == PortRow.id)
            .where(PortSecurityGroupRow.group_id == group_id)
        )
        return [
            network_of(item)
            for fixed, pairs in self.session.execute(query)
            for item in (*split(fixed), *split(pairs))
        ]

    def members_holding(self, group_id: str, networks: Collection[Network]) -> set[Network]:
        """Those of ``networks`` that a member of the group holds (a fixed address, or an allowed address
        pair of equal network). Only the rows whose texts contain one of theirs are read: a member leaving
        costs what its own addresses cost, not the group's thousand members."""
        if not networks:
            return set()
        texts = {str(n.network_address) if _is_host(n) else str(n) for n in networks}
        found = or_(
            *(
                column.contains(text, autoescape=True)
                for text in sorted(texts)
                for column in (PortRow.fixed_ips, PortRow.allowed_address_pairs)
            )
        )
        query = (
            select(PortRow.fixed_ips, PortRow.allowed_address_pairs)
            .join(PortSecurityGroupRow, PortSecurityGroupRow.port_id == PortRow.id)
            .where(PortSecurityGroupRow.group_id == group_id, found)
        )
        wanted = set(networks)
        held = {
            network_of(item)
            for fixed, pairs in self.session.execute(query)
            for item in (*split(fixed), *split(pairs))
        }
        return wanted & held

    def ports_at(self, addr: Address) -> list[Port]:
        """The ports (by device) that hold ``addr``: as a fixed address, or inside an allowed address pair.
        Only rows whose fixed addresses contain its text, or that have pairs, are read and built."""
        text = str(addr)
        query = (
            select(*PORT_COLUMNS)
            .where(
                or_(
                    PortRow.fixed_ips.contains(text, autoescape=True),
                    PortRow.allowed_address_pairs != "",
                )
            )
            .order_by(PortRow.device)
        )
        rows = [
            row
            for row in self.session.execute(query)
            if any(address_of(a) == addr for a in split(row.fixed_ips))
            or any(_holds(network_of(n), addr) for n in split(row.allowed_address_pairs))
        ]
        if not rows:
            return []
        links = select(*MEMBERSHIP).where(PortSecurityGroupRow.port_id.in_([row.id for row in rows]))
        memberships: dict[str, list[str]] = {}
        for port_id, group_id in self.session.execute(links):
            memberships.setdefault(port_id, []).append(group_id)
        return [port_of(row, memberships.get(row.id, ())) for row in rows]

    def _groups_of(self, port_id: str) -> list[str]:
        query = select(PortSecurityGroupRow.group_id).where(PortSecurityGroupRow.port_id == port_id)
        return list(self.session.scalars(query))

    def put_port(self, port: Port) -> None:
        """Insert the port, or update the stored one with the same id (its groups replaced)."""
        self.put_ports([port])

    def put_ports(self, ports: Sequence[Port]) -> None:
        """Insert or update several ports with few statements (bulk creation of many ports stays fast)."""
        ids = [p.id for p in ports]
        existing = {row.id: row for row in self.session.scalars(select(PortRow).where(PortRow.id.in_(ids)))}
        for port in ports:
            row = existing.get(port.id)
            if row is None:
                row = existing[port.id] = PortRow(id=port.id, created_at=now(), revision_number=0)
                self.session.add(row)
            else:
                row.revision_number = (row.revision_number or 0) + 1
                row.updated_at = now()
            row.device, row.name, row.mac, row.project = port.device, port.name, str(port.mac), port.project
            row.fixed_ips = " ".join(str(a) for a in port.fixed_ips)
            row.allowed_address_pairs = " ".join(str(n) for n in port.allowed_address_pairs)
            row.port_security, row.dhcp_server = port.port_security, port.dhcp_server
            row.device_id = port.device_id
            row.network_id, row.device_owner, row.host = port.network_id, port.device_owner, port.host
        self.session.flush()
        self.session.execute(delete(PortSecurityGroupRow).where(PortSecurityGroupRow.port_id.in_(ids)))
        self.session.add_all(
            PortSecurityGroupRow(port_id=port.id, group_id=group_id)
            for port in ports
            for group_id in dict.fromkeys(port.security_groups)
        )
        self.session.flush()
        self._changed()

    def ports_by_id(self, ids: Iterable[str]) -> list[Port]:
        wanted = list(ids)
        if not wanted:
            return []
        query = select(*PORT_COLUMNS).where(PortRow.id.in_(wanted)).order_by(PortRow.device)
        return self._ports(query, select(*MEMBERSHIP).where(PortSecurityGroupRow.port_id.in_(wanted)))

    def bound_ports(self, devices: Collection[str] | None = None) -> dict[tuple[str, str], str]:
        """(host, device) -> filter name of every binding of every host (without reading their XML), or of
        the bindings of some devices only."""
        from guestwall.store.tables import BindingRow

        query = select(BindingRow.host, BindingRow.portdev, BindingRow.filter_name)
        if devices is not None:
            # by (host, device), the unique index: the hosts come from the host index (the device alone
            # has none, and a scan of the table reads every binding's XML)
            hosts = select(BindingRow.host).distinct()
            query = query.where(BindingRow.host.in_(hosts), BindingRow.portdev.in_(sorted(devices)))
        return {(host, dev): name for host, dev, name in self.session.execute(query)}

    def filters_bound(self, names: Collection[str]) -> set[str]:
        """Those of the filters ``names`` that a binding of any host names (an indexed lookup each)."""
        from guestwall.store.tables import BindingRow

        # one indexed probe each (a thousand ports may share the filter: no need to count them)
        probe = select(BindingRow.port_id).where(BindingRow.filter_name == bindparam("name")).limit(1)
        return {name for name in names if self.session.execute(probe, {"name": name}).first() is not None}

    def bound_devices(self, devices: Collection[str] | None = None) -> dict[str, str]:
        """Device -> filter name of every binding of the writing host (without reading their XML), or of
        the bindings of some devices only."""
        from guestwall.store.tables import BindingRow

        query = select(BindingRow.portdev, BindingRow.filter_name).where(BindingRow.host == self.host)
        if devices is not None:
            query = query.where(BindingRow.portdev.in_(sorted(devices)))
        return {dev: name for dev, name in self.session.execute(query)}

    def address_set_texts(self, names: Iterable[str]) -> dict[str, str]:
        """The stored text of some address sets (comparing texts avoids parsing thousands of networks)."""
        from guestwall.store.tables import AddressSetRow

        wanted = list(names)
        query = select(AddressSetRow.name, AddressSetRow.networks).where(AddressSetRow.name.in_(wanted))
        return {name: text for name, text in self.session.execute(query)}

    def address_set_names(self) -> list[str]:
        from guestwall.store.tables import AddressSetRow

        return list(self.session.scalars(select(AddressSetRow.name)))

    def delete_port(self, port_id: str) -> None:
        row = self._existing(PortRow, port_id, "port")
        self.session.execute(delete(PortSecurityGroupRow).where(PortSecurityGroupRow.port_id == port_id))
        self.session.delete(row)
        self.session.flush()
        self._changed()

    def group_in_use(self, group_id: str) -> list[str]:
        """Devices of the ports that are in this group."""
        return [p.device for p in self.ports_in_group(group_id)]

    # ---- provider blocks ----------------------------------------------------------------------------

    def provider_blocks(self, cidr: Network | None = None) -> list[ProviderBlock]:
        """All blocks (in creation order), or those of one CIDR. Plain rows, not ORM objects: there may be
        tens of thousands."""
        query = select(*BLOCK_COLUMNS).order_by(ProviderBlockRow.created_at, ProviderBlockRow.id)
        if cidr is not None:
            query = query.where(ProviderBlockRow.cidr == str(cidr))
        return [
            ProviderBlock(ident, network_of(text), protocol, lo, hi, description, log)
            for ident, text, protocol, lo, hi, description, log in self.session.execute(query)
        ]

    def provider_blocks_around(self, cidr: Network) -> list[ProviderBlock]:
        """The blocks of the networks strictly containing ``cidr`` (one indexed lookup, not a scan)."""
        wider = [str(cidr.supernet(new_prefix=p)) for p in range(cidr.prefixlen)]
        query = select(*BLOCK_COLUMNS).where(ProviderBlockRow.cidr.in_(wider))
        return [
            ProviderBlock(ident, network_of(text), protocol, lo, hi, description, log)
            for ident, text, protocol, lo, hi, description, log in self.session.execute(query)
        ]

    def has_provider_kind(self, kind: BlockKind, log: bool) -> bool:
        """Whether a block of this protocol and port range (and logging) exists."""
        protocol, lo, hi = kind.protocol, kind.port_min, kind.port_max
        row = ProviderBlockRow
        query = select(row.id).where(
            row.protocol.is_(None) if protocol is None else row.protocol == protocol,
            row.port_min.is_(None) if lo is None else row.port_min == lo,
            row.port_max.is_(None) if hi is None else row.port_max == hi,
            row.log == log,
        )
        return self.session.execute(query.limit(1)).first() is not None

    def provider_block(self, block_id: str) -> ProviderBlock | None:
        query = select(*BLOCK_COLUMNS).where(ProviderBlockRow.id == block_id)
        row = self.session.execute(query).one_or_none()
        return None if row is None else ProviderBlock(row[0], network_of(row[1]), *row[2:])

    def provider_block_ids(self) -> list[str]:
        return list(self.session.scalars(select(ProviderBlockRow.id)))

    def add_provider_block(self, block: ProviderBlock) -> None:
        self.session.add(
            ProviderBlockRow(
                id=block.id,
                cidr=str(block.cidr),
                protocol=block.protocol,
                port_min=block.port_min,
                port_max=block.port_max,
                description=block.description,
                log=block.log,
                created_at=now(),
            )
        )
        self.session.flush()
        self._changed()

    def delete_provider_block(self, block_id: str) -> None:
        row = self._existing(ProviderBlockRow, block_id, "provider block")
        self.session.delete(row)
        self.session.flush()
        self._changed()

    # ---- address groups -----------------------------------------------------------------------------

    def address_groups(self, project: str | None = None) -> list[AddressGroup]:
        query = select(AddressGroupRow).order_by(
            AddressGroupRow.project, AddressGroupRow.name, AddressGroupRow.id
        )
        if project is not None:
            query = query.where(AddressGroupRow.project == project)
        return [address_group_of(row) for row in self.session.scalars(query)]

    def address_group(self, group_id: str) -> AddressGroup | None:
        row = self.session.get(AddressGroupRow, group_id)
        return None if row is None else address_group_of(row)

    def put_address_group(self, group: AddressGroup) -> None:
        """Insert, or update the stored one with the same id (its revision goes up by one)."""
        row = self.session.get(AddressGroupRow, group.id)
        if row is None:
            row = AddressGroupRow(id=group.id, created_at=now(), revision_number=0)
            self.session.add(row)
            bump = False
        else:
            bump = True
        row.name, row.project, row.description = group.name, group.project, group.description
        row.addresses = " ".join(str(n) for n in group.addresses)
        self.session.flush()
        if bump:
            self._bump(row)
        self._changed()

    def delete_address_group(self, group_id: str) -> None:
        row = self._existing(AddressGroupRow, group_id, "address group")
        self.session.delete(row)
        self.session.flush()
        self._changed()


def _is_host(net: Network) -> bool:
    return net.prefixlen == net.max_prefixlen


def _holds(net: Network, addr: Address) -> bool:
    return net.version == addr.version and addr in net
