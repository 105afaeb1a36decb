"""The dashboard's reads: one page of ports, groups, blocks or filters, and the counts of the overview.

Each page is a few SQL queries limited to the rows it shows (``LIMIT``/``OFFSET`` plus a count), so a page
costs the same with 10 or 10,000 objects; the cloud use cases (``Cloud.list_*``) read everything and stay
for the API and the CLI. Tenant scope is applied here: ``project`` None means every project (admins).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from guestwall.cloud import translate as tr
from guestwall.model.cloud import Port, ProviderBlock, SecurityGroup
from guestwall.store.cloudrepo import cloud_reader
from guestwall.store.cloudtables import (
    PortRow,
    PortSecurityGroupRow,
    ProviderBlockRow,
    SecurityGroupRow,
    SecurityGroupRuleRow,
)
from guestwall.store.records import Store
from guestwall.store.sqlstore import SqlReader
from guestwall.store.tables import BindingRow, FilterRow

PAGE_SIZE = 50
# Filters a non-admin does not see: they would reveal other projects' groups and the provider's blocks.
PRIVATE_FILTER_PREFIXES = (tr.GROUP_PREFIX, tr.PORT_PREFIX, tr.PROVIDER)


@dataclass(frozen=True)
class Page:
    """Which slice of a listing: 1-based number, and the filter text typed by the user."""

    number: int = 1
    text: str = ""
    size: int = PAGE_SIZE

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


@dataclass(frozen=True)
class Slice:
    """The rows of one page and what the pager needs."""

    rows: tuple[Any, ...]
    total: int
    page: Page

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page.size))

    @property
    def first(self) -> int:
        return self.page.offset + 1 if self.total else 0

    @property
    def last(self) -> int:
        return min(self.total, self.page.offset + len(self.rows))


@dataclass(frozen=True)
class PortRowView:
    port: Port
    group_names: tuple[str, ...]
    bound_filter: str | None  # the binding's top filter; None: no binding in the store


@dataclass(frozen=True)
class GroupRowView:
    group: SecurityGroup  # without its rules (the page shows counts)
    rules: int
    ports: int


@dataclass(frozen=True)
class FilterRowView:
    name: str
    uuid: str
    bindings: int  # bindings that use it as their top filter


@dataclass(frozen=True)
class Counts:
    ports: int
    groups: int
    rules: int
    blocks: int
    filters: int
    bindings: int
    unbound_ports: int  # cloud ports without a binding: not enforced


def _session(reader: object) -> Session:
    assert isinstance(reader, SqlReader), "the dashboard needs the SQL store"
    return reader.session


def _sliced(session: Session, query: Any, page: Page) -> tuple[list[Any], int]:
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = list(session.execute(query.limit(page.size).offset(page.offset)))
    return rows, total


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def ports_page(store: Store, project: str | None, page: Page) -> Slice:
    """Ports ordered by device; the text filters device, name, MAC, addresses and project."""
    query = select(PortRow).order_by(PortRow.device)
    if project is not None:
        query = query.where(PortRow.project == project)
    if page.text:
        pattern = _like(page.text)
        columns = (PortRow.device, PortRow.name, PortRow.mac, PortRow.fixed_ips, PortRow.project)
        query = query.where(or_(*(c.like(pattern, escape="\\") for c in columns)))
    with store.read() as reader:
        session = _session(reader)
        rows, total = _sliced(session, query, page)
        records = [r[0] for r in rows]
        ids = [r.id for r in records]
        links = session.execute(
            select(PortSecurityGroupRow.port_id, PortSecurityGroupRow.group_id).where(
                PortSecurityGroupRow.port_id.in_(ids)
            )
        )
        member: dict[str, list[str]] = {}
        for port_id, group_id in links:
            member.setdefault(port_id, []).append(group_id)
        names = _group_names(session, {g for gs in member.values() for g in gs})
        bound = dict(
            session.execute(
                select(BindingRow.portdev, BindingRow.filter_name).where(
                    BindingRow.portdev.in_([r.device for r in records])
                )
            ).all()
        )
        ports = {p.id: p for p in cloud_reader(reader).ports_by_id(ids)}
        views = [
            PortRowView(
                ports[record.id],
                tuple(sorted(names.get(g, g) for g in member.get(record.id, ()))),
                bound.get(record.device),
            )
            for record in records
        ]
    return Slice(tuple(views), total, page)


def _group_names(session: Session, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    query = select(SecurityGroupRow.id, SecurityGroupRow.name).where(SecurityGroupRow.id.in_(ids))
    return dict(session.execute(query).all())


def group_names(store: Store, ids: Sequence[str]) -> dict[str, str]:
    with store.read() as reader:
        return _group_names(_session(reader), set(ids))


def groups_page(store: Store, project: str | None, page: Page) -> Slice:
    """Groups ordered by project and name, with their numbers of rules and ports."""
    query = select(SecurityGroupRow).order_by(SecurityGroupRow.project, SecurityGroupRow.name)
    if project is not None:  # a project sees its own groups and the shared ones
        query = query.where(or_(SecurityGroupRow.project == project, SecurityGroupRow.shared.is_(True)))
    if page.text:
        pattern = _like(page.text)
        columns = (SecurityGroupRow.name, SecurityGroupRow.id, SecurityGroupRow.description)
        query = query.where(or_(*(c.like(pattern, escape="\\") for c in columns)))
    with store.read() as reader:
        session = _session(reader)
        rows, total = _sliced(session, query, page)
        records = [r[0] for r in rows]
        ids = [r.id for r in records]
        rules = _counts(session, SecurityGroupRuleRow.group_id, ids)
        ports = _counts(session, PortSecurityGroupRow.group_id, ids)
        views = tuple(
            GroupRowView(
                SecurityGroup(r.id, r.name, r.project, r.description, shared=r.shared),
                rules.get(r.id, 0),
                ports.get(r.id, 0),
            )
            for r in records
        )
    return Slice(views, total, page)


def _counts(session: Session, column: Any, ids: list[str]) -> dict[str, int]:
    query = select(column, func.count()).where(column.in_(ids)).group_by(column)
    return dict(session.execute(query).all())


def blocks_page(store: Store, page: Page) -> Slice:
    """Provider blocks in creation order; the text filters CIDR, protocol and description."""
    query = select(ProviderBlockRow).order_by(ProviderBlockRow.created_at, ProviderBlockRow.id)
    if page.text:
        pattern = _like(page.text)
        columns = (ProviderBlockRow.cidr, ProviderBlockRow.protocol, ProviderBlockRow.description)
        query = query.where(or_(*(c.like(pattern, escape="\\") for c in columns)))
    with store.read() as reader:
        rows, total = _sliced(_session(reader), query, page)
        repo = cloud_reader(reader)
        blocks: list[ProviderBlock] = []
        for (row,) in rows:
            block = repo.provider_block(row.id)
            assert block is not None
            blocks.append(block)
    return Slice(tuple(blocks), total, page)


def filters_page(store: Store, project: str | None, page: Page) -> Slice:
    """Filters by name, with how many bindings use each; non-admins do not see other projects' derived
    filters (groups, port profiles) nor the provider's."""
    query = select(FilterRow.name, FilterRow.uuid).order_by(FilterRow.name)
    if page.text:
        query = query.where(FilterRow.name.like(_like(page.text), escape="\\"))
    with store.read() as reader:
        session = _session(reader)
        if project is not None:
            own = [tr.group_filter_name(g) for g in _project_group_ids(session, project)]
            hidden = or_(*(FilterRow.name.like(f"{p}%") for p in PRIVATE_FILTER_PREFIXES))
            query = query.where(or_(~hidden, FilterRow.name.in_(own)))
        rows, total = _sliced(session, query, page)
        names = [name for name, _ in rows]
        used = dict(
            session.execute(
                select(BindingRow.filter_name, func.count())
                .where(BindingRow.filter_name.in_(names))
                .group_by(BindingRow.filter_name)
            ).all()
        )
    views = tuple(FilterRowView(name, uuid, used.get(name, 0)) for name, uuid in rows)
    return Slice(views, total, page)


def _project_group_ids(session: Session, project: str) -> list[str]:
    return list(session.scalars(select(SecurityGroupRow.id).where(SecurityGroupRow.project == project)))


def filter_visible(store: Store, name: str, project: str | None) -> bool:
    """Whether a viewer limited to ``project`` may read filter ``name`` (None: an admin, every filter)."""
    if project is None or not name.startswith(PRIVATE_FILTER_PREFIXES):
        return True
    with store.read() as reader:
        own = {tr.group_filter_name(g) for g in _project_group_ids(_session(reader), project)}
    return name in own


def counts(store: Store, project: str | None) -> Counts:
    """What the overview counts, within ``project`` (None: everything)."""
    with store.read() as reader:
        session = _session(reader)

        def count(query: Any) -> int:
            return session.scalar(select(func.count()).select_from(query.subquery())) or 0

        ports = select(PortRow.id, PortRow.device)
        groups = select(SecurityGroupRow.id)
        rules = select(SecurityGroupRuleRow.id).join(
            SecurityGroupRow, SecurityGroupRow.id == SecurityGroupRuleRow.group_id
        )
        bindings: Any = select(BindingRow.portdev)
        if project is not None:
            ports = ports.where(PortRow.project == project)
            groups = groups.where(SecurityGroupRow.project == project)
            rules = rules.where(SecurityGroupRow.project == project)
            # a project's bound ports (a join of bindings to ports costs ~50 ms with 1000 ports in SQLite)
            bindings = ports.where(PortRow.device.in_(select(BindingRow.portdev)))
        unbound = ports.where(~PortRow.device.in_(select(BindingRow.portdev)))
        filters = select(FilterRow.uuid)
        if project is not None:
            filters = filters.where(~or_(*(FilterRow.name.like(f"{p}%") for p in PRIVATE_FILTER_PREFIXES)))
        return Counts(
            ports=count(ports),
            groups=count(groups),
            rules=count(rules),
            blocks=count(select(ProviderBlockRow.id)),
            filters=count(filters),
            bindings=count(bindings),
            unbound_ports=count(unbound),
        )


def group_with_rules(store: Store, group_id: str) -> SecurityGroup | None:
    with store.read() as reader:
        return cloud_reader(reader).group(group_id)


def groups_in_project(store: Store, project: str) -> list[tuple[str, str]]:
    """(id, name) of the groups a rule of ``project`` may name as remote: its own and shared ones."""
    query = (
        select(SecurityGroupRow.id, SecurityGroupRow.name)
        .where(or_(SecurityGroupRow.project == project, SecurityGroupRow.shared.is_(True)))
        .order_by(SecurityGroupRow.name)
    )
    with store.read() as reader:
        return list(_session(reader).execute(query).all())


def ports_in_group(store: Store, group_id: str, limit: int = PAGE_SIZE) -> tuple[list[str], int]:
    """Devices of (the first ``limit``) ports in a group, and how many there are."""
    query = (
        select(PortRow.device)
        .join(PortSecurityGroupRow, PortSecurityGroupRow.port_id == PortRow.id)
        .where(PortSecurityGroupRow.group_id == group_id)
        .order_by(PortRow.device)
    )
    with store.read() as reader:
        session = _session(reader)
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        return list(session.scalars(query.limit(limit))), total


def port_by_device(store: Store, device: str) -> Port | None:
    with store.read() as reader:
        return cloud_reader(reader).port_by_device(device)
