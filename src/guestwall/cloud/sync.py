"""Write what the engine enforces for cloud objects into the store, in the caller's write transaction.

After a cloud change, ``sync`` rewrites only what the change touches: the named groups' filters and
address sets, the named ports' bindings (and their shared top filters), the provider filter and sets. It
compares with what is stored and writes only differences, so an unchanged object costs one comparison and
the kernel transaction that follows contains only real changes. Top filters no binding names any more are
removed. A change costs what it touches, not what the store holds: a block edits the provider sets by its
CIDR, and ports that come, go or change edit their groups' member sets by their own networks
(``Scope.moved``); only their bindings are read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from uuid import NAMESPACE_URL, UUID, uuid5

from guestwall.cloud import basefilters as base
from guestwall.cloud import translate as tr
from guestwall.model import Binding, Filter
from guestwall.model.addressset import AddressSet
from guestwall.model.cloud import Network, Port, ProviderBlock
from guestwall.store.cloudrepo import CloudRepo
from guestwall.store.records import BindingRecord, FilterRecord, Writer

# Derived filters get stable UUIDs from their names (a filter redefined elsewhere keeps its own UUID).
_FILTER_NS = uuid5(NAMESPACE_URL, "https://guestwall.invalid/cloud/filters")


@dataclass
class Scope:
    """What a change touches. ``everything`` resynchronises all cloud objects (repair, upgrades)."""

    groups: set[str] = field(default_factory=set)  # group ids: filter and address set
    member_sets: set[str] = field(default_factory=set)  # group ids: address set only
    ports: set[str] = field(default_factory=set)  # port ids: binding (and top filter)
    removed_devices: set[str] = field(default_factory=set)  # bindings of deleted ports
    provider: bool = False
    address_groups: set[str] = field(default_factory=set)  # address group ids: their address sets
    everything: bool = False
    # provider blocks this change added or removed: their sets change by these networks alone, unless a
    # kind of block comes or goes (then the provider filter and sets are derived again from every block)
    blocks_added: Sequence[ProviderBlock] = ()
    blocks_removed: Sequence[ProviderBlock] = ()
    # the ports this change created, changed or deleted, as (before, after) (None: did not / no longer
    # exists), when they are all that changed in ``member_sets``: those sets are edited by these ports'
    # networks alone (None: each is derived again from every member)
    moved: Sequence[tuple[Port | None, Port | None]] | None = None


@dataclass
class Changes:
    """What ``sync`` wrote: filters (names written or removed), whether any binding changed, address sets
    (names written or removed). The enforcement that follows picks its path from it."""

    filters: set[str] = field(default_factory=set)
    bindings: bool = False
    sets: set[str] = field(default_factory=set)
    gone: list[BindingRecord] = field(default_factory=list)  # bindings as they were, removed or replaced
    come: list[str] = field(default_factory=list)  # devices whose binding was added or replaced
    stored: dict[str, FilterRecord] = field(default_factory=dict)  # every filter after the change, by name

    def __bool__(self) -> bool:
        return bool(self.filters or self.bindings or self.sets)


class _Filters:
    """The stored filters, read once, written only when their definition differs (compared by value)."""

    def __init__(self, writer: Writer, changes: Changes, stored: Sequence[FilterRecord] | None) -> None:
        self.writer = writer
        self.changes = changes
        self.records = changes.stored = {r.name: r for r in (writer.filters() if stored is None else stored)}

    def put(self, definition: Filter) -> None:
        from guestwall.nwfilter import format_filter

        name = definition.name
        existing = self.records.get(name)
        uuid: UUID = existing.uuid if existing is not None else uuid5(_FILTER_NS, name)
        definition = replace(definition, uuid=uuid)
        if existing is None or existing.definition != definition:
            self.records[name] = self.writer.put_filter(uuid, name, format_filter(definition))
            self.changes.filters.add(name)

    def delete(self, name: str) -> None:
        existing = self.records.pop(name, None)
        if existing is not None:
            self.writer.delete_filter(existing.uuid)
            self.changes.filters.add(name)


class _Sets:
    """The stored address sets; the store writes only those that differ."""

    def __init__(self, writer: Writer, repo: CloudRepo, changes: Changes) -> None:
        self.writer = writer
        self.repo = repo
        self.changes = changes
        self.names = set(repo.address_set_names())

    def put(self, aset: AddressSet) -> None:
        if self.writer.put_address_set(aset.name, aset.networks):
            self.names.add(aset.name)
            self.changes.sets.add(aset.name)

    def delete(self, name: str) -> None:
        if name in self.names:
            self.writer.delete_address_set(name)
            self.names.discard(name)
            self.changes.sets.add(name)


def sync(
    writer: Writer, repo: CloudRepo, scope: Scope, stored: Sequence[FilterRecord] | None = None
) -> Changes:
    """Write what ``scope`` derives; returns what differed from the store. ``stored``: the filters as the
    caller just read them from ``writer`` (else they are read here)."""
    changes = Changes()
    filters = _Filters(writer, changes, stored)
    sets = _Sets(writer, repo, changes)
    for definition in base.filters().values():
        filters.put(definition)
    all_ports: list[Port] | None = None
    if scope.everything:
        all_ports = repo.ports()
        scope = _everything(repo, filters, sets, all_ports)
    if (scope.provider or tr.PROVIDER not in filters.records) and not _provider_delta(
        writer, repo, filters, sets, scope
    ):
        blocks = repo.provider_blocks()
        filters.put(tr.provider_filter(blocks))
        wanted = tr.provider_sets(blocks)
        for aset in wanted.values():
            sets.put(aset)
        for name in [n for n in sets.names if n.startswith(tr.PROVIDER_SET_PREFIX) and n not in wanted]:
            sets.delete(name)
    for group_id in sorted(scope.groups):
        group = repo.group(group_id)
        name = tr.group_filter_name(group_id)
        if group is None:
            filters.delete(name)
            sets.delete(tr.group_set_name(group_id))
            continue
        filters.put(tr.group_filter(group))
    for ag_id in sorted(scope.address_groups):
        address_group = repo.address_group(ag_id)
        if address_group is None:
            sets.delete(tr.address_group_set_name(ag_id))
        else:
            sets.put(tr.address_group_set(address_group))
    for group_id in sorted(scope.groups | scope.member_sets):
        if not repo.has_group(group_id):
            continue
        if all_ports is not None:
            sets.put(tr.group_set(group_id, all_ports))
        elif group_id not in scope.member_sets and tr.group_set_name(group_id) in sets.names:
            continue  # its rules or fields changed, not its members: the stored set stands
        elif not _members_delta(writer, repo, sets, scope, group_id):
            nets = tuple(dict.fromkeys(repo.member_networks(group_id)))
            sets.put(AddressSet(tr.group_set_name(group_id), nets))
    if scope.ports or scope.removed_devices:
        changes.bindings = _sync_bindings(writer, repo, filters, scope, all_ports, changes)
    return changes


def _provider_delta(writer: Writer, repo: CloudRepo, filters: _Filters, sets: _Sets, scope: Scope) -> bool:
    """The provider sets edited by the blocks that came and went, when no kind of block came or went (the
    provider filter stays as it is); False when everything must be derived again."""
    if scope.everything or tr.PROVIDER not in filters.records:
        return False
    if not (scope.blocks_added or scope.blocks_removed):
        return False
    edits: dict[str, tuple[list[Network], list[Network]]] = {}
    for block in scope.blocks_added:
        name = tr.provider_set_name(block.kind, block.log)
        if name not in sets.names:
            return False  # the first block of its kind: the filter gets a rule for it
        edits.setdefault(name, ([], []))[0].append(block.cidr)
    for block in scope.blocks_removed:
        name = tr.provider_set_name(block.kind, block.log)
        if name != tr.PROVIDER_ANY and not repo.has_provider_kind(block.kind, block.log):
            return False  # the last block of its kind: its rule goes
        edits.setdefault(name, ([], []))[1].append(block.cidr)
    for name, (add, remove) in sorted(edits.items()):
        if writer.edit_address_set(name, add, remove):
            sets.changes.sets.add(name)
    return True


# Beyond this many networks coming into or leaving a group's set at once (a bulk creation), deriving it from
# every member costs less than editing it line by line and asking which of them another member holds.
_EDIT_LIMIT = 64


def _members_delta(writer: Writer, repo: CloudRepo, sets: _Sets, scope: Scope, group_id: str) -> bool:
    """The group's member set edited by the networks of the ports that moved (``scope.moved``): theirs
    now come, theirs before go unless another member still holds them (two members may share an
    address); False when it must be derived from every member (a new group, a set not stored yet)."""
    name = tr.group_set_name(group_id)
    if scope.moved is None or group_id in scope.groups or name not in sets.names:
        return False
    edit = tr.member_edit(group_id, scope.moved)
    if len(edit.come) + len(edit.leaving) > _EDIT_LIMIT:
        return False
    kept = repo.members_holding(group_id, edit.leaving)
    if writer.edit_address_set(name, edit.come, [n for n in edit.leaving if n not in kept]):
        sets.changes.sets.add(name)
    return True


def _everything(repo: CloudRepo, filters: _Filters, sets: _Sets, ports: list[Port]) -> Scope:
    """The scope of a full resynchronisation; group filters and sets of groups that no longer exist go."""
    groups = {tr.group_key(g.id): g.id for g in repo.groups()}
    for name in [n for n in filters.records if n.startswith(tr.GROUP_PREFIX)]:
        if name[len(tr.GROUP_PREFIX) :] not in groups:
            filters.delete(name)
    for name in [n for n in sets.names if n.startswith(tr.GROUP_PREFIX)]:
        if name[len(tr.GROUP_PREFIX) :] not in groups:
            sets.delete(name)
    address_groups = {tr.group_key(g.id): g.id for g in repo.address_groups()}
    for name in [n for n in sets.names if n.startswith(tr.ADDRESS_GROUP_PREFIX)]:
        if name[len(tr.ADDRESS_GROUP_PREFIX) :] not in address_groups:
            sets.delete(name)
    devices = {p.device for p in ports}
    stale = {
        dev for (_, dev), name in repo.bound_ports().items() if name.startswith(tr.DERIVED_PREFIX)
    } - devices
    return Scope(
        groups=set(groups.values()),
        ports={p.id for p in ports},
        removed_devices=stale,
        provider=True,
        address_groups=set(address_groups.values()),
    )


def _sync_bindings(
    writer: Writer,
    repo: CloudRepo,
    filters: _Filters,
    scope: Scope,
    all_ports: list[Port] | None,
    changes: Changes,
) -> bool:
    """Write the ports' bindings, each on its port's host (``binding:host_id``; a port without one stays
    where it is bound, else goes to the writing host); whether any was added, changed or removed. Only
    this host's bindings are noted in ``changes`` (this kernel's incremental paths): other hosts' agents
    follow the change log."""
    from guestwall.nwfilter import format_binding

    ports = all_ports if all_ports is not None else repo.ports_by_id(scope.ports)
    # the bindings of the devices in scope, and what they named before (all of them in a full sync)
    devices = None if all_ports is not None else {p.device for p in ports} | scope.removed_devices
    bound = repo.bound_ports(devices)
    named_before = set(bound.values())
    local = writer.host
    changed = False

    def unbind(host: str, device: str) -> None:
        on = writer.on(host)
        old = on.binding(device)
        if old is not None and host == local:
            changes.gone.append(old)
        on.delete_binding(device)
        del bound[(host, device)]

    for device in sorted(scope.removed_devices):
        for host in sorted(h for h, d in list(bound) if d == device):
            unbind(host, device)
            changed = True
    new: dict[str, list[Binding]] = {}
    for port in ports:
        if port.port_security:
            prof = tr.profile(port)
            filters.put(tr.port_filter(prof))
        filter_name = tr.port_filter_name(port)
        binding = tr.binding(port)
        where = sorted(h for h, d in bound if d == port.device)
        host = port.host or (local if local in where or not where else where[0])
        for other in where:  # the port moved: its derived binding on the old host goes
            if other != host and bound[(other, port.device)].startswith(tr.DERIVED_PREFIX):
                unbind(other, port.device)
                changed = True
        if (host, port.device) not in bound:
            new.setdefault(host, []).append(binding)
        else:
            on = writer.on(host)
            record = on.binding(port.device)
            if record is None or record.binding != binding:
                if record is not None and host == local:
                    changes.gone.append(record)
                on.update_binding(port.device, filter_name, format_binding(binding), binding)
                if host == local:
                    changes.come.append(port.device)
                changed = True
        bound[(host, port.device)] = filter_name
    for host, bindings in sorted(new.items()):
        rows = [(b.portdev, b.filterref.filter, format_binding(b)) for b in bindings]
        writer.on(host).add_bindings(rows, bindings)  # one existence check and one port-id allocation
        if host == local:
            changes.come += [b.portdev for b in bindings]
        changed = True
    used = set(bound.values())
    if all_ports is not None:
        unused = {n for n in filters.records if n.startswith(tr.PORT_PREFIX)} - used
    else:  # a top filter the scope's bindings no longer name may still be another binding's
        left = {n for n in named_before if n.startswith(tr.PORT_PREFIX)} - used
        unused = left - repo.filters_bound(left)
    for name in sorted(unused):
        filters.delete(name)
    return changed
