"""Filter use cases (define, undefine, look up, list), shared by the CLI, the REST API and the agent.

Semantics follow libvirt's virNWFilterObjListAssignDef and nwfilter driver (reference §2.7), with one
deliberate difference: a definition without <uuid> for an existing name updates that filter and keeps its
UUID (libvirt generates a random UUID and then fails with "already exists with uuid").
The XML layer (lxml) is imported only by the use cases that parse, so that listing stays fast.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING
from uuid import UUID, uuid4

from guestwall.errors import ConflictError, FilterError, InUseError, NotFoundError, Where
from guestwall.instantiate.tree import reachable_filters
from guestwall.services.ownership import check_filter_change
from guestwall.store.records import FilterRecord, ReadableStore, Reader, Store

if TYPE_CHECKING:
    from guestwall.engine import Engine
    from guestwall.model import Filter


@dataclass(frozen=True)
class DefineResult:
    name: str
    uuid: UUID
    changed: bool  # False for an identical redefinition: nothing was written, nothing needs re-enforcing


def define_filter(
    store: Store, xml: str | bytes, *, validate: bool = False, engine: Engine | None = None
) -> DefineResult:
    """Define a new filter or redefine an existing one (same name; same UUID or none given), enforced by
    ``engine`` before commit (if it raises, nothing is committed); without an engine the store only."""
    from guestwall.nwfilter import format_filter, parse_filter

    new = parse_filter(xml, validate=validate)  # input errors leave before the store is touched
    check_filter_change(new.name, "nwfilter-define")
    check_ranges(new)
    with store.write() as writer:
        if new.uuid is not None:
            same_uuid = writer.filter_by_uuid(new.uuid)
            if same_uuid is not None and same_uuid.name != new.name:
                raise ConflictError(
                    f"filter with same UUID but different name ('{same_uuid.name}') already exists"
                )
        existing = writer.filter_by_name(new.name)
        if existing is not None and new.uuid is not None and existing.uuid != new.uuid:
            raise ConflictError(f"filter '{new.name}' already exists with uuid {existing.uuid}")
        uuid = existing.uuid if existing is not None else (new.uuid or uuid4())
        new = replace(new, uuid=uuid)
        text = format_filter(new)
        _refuse_unreadable(new.name, text)

        if existing is not None and existing.xml == text:
            # Identical (libvirt compares the formatted XML too); it was loop-free when it was defined.
            return DefineResult(new.name, uuid, changed=False)
        before = load_filters(writer)
        filters = {**before, new.name: new}
        if has_loop(filters, new.name):
            raise ConflictError("filter would introduce a loop")
        writer.put_filter(uuid, new.name, text)
        _enforce(engine, writer, before, filters)
        return DefineResult(new.name, uuid, changed=True)


def undefine_filter(store: Store, name_or_uuid: str, engine: Engine | None = None) -> FilterRecord:
    """Remove a filter that no binding uses, directly or through its filter tree; returns what was removed.

    As libvirt, a filter that only unbound filters reference can be removed; they keep a dangling reference.
    """
    with store.write() as writer:
        record = _find(writer, name_or_uuid)
        check_filter_change(record.name, "nwfilter-undefine")
        before = load_filters(writer)
        if record.name in reachable_filters(before, writer.bound_filters()):
            raise InUseError("nwfilter is in use")
        writer.delete_filter(record.uuid)
        _enforce(engine, writer, before, {n: f for n, f in before.items() if n != record.name})
        return record


def _enforce(
    engine: Engine | None, writer: Reader, before: dict[str, Filter], after: dict[str, Filter]
) -> None:
    if engine is not None:
        from guestwall.engine import filter_edit

        engine.apply(writer, filter_edit(before, after))


def find_filter(store: ReadableStore, name_or_uuid: str) -> FilterRecord:
    """The stored filter by UUID or name, as virsh looks it up."""
    with store.read() as reader:
        return _find(reader, name_or_uuid)


def list_filters(store: ReadableStore) -> list[FilterRecord]:
    """All filters in virsh's order: by name, case-insensitively (strcasecmp)."""
    with store.read() as reader:
        return sorted(reader.filters(), key=lambda r: (r.name.encode().lower(), r.name))


def load_filters(reader: Reader) -> dict[str, Filter]:
    """Every stored filter definition by name (what instantiation and enforcement need)."""
    return {record.name: record.definition for record in reader.filters()}


def load_filter_tree(reader: Reader, name: str) -> dict[str, Filter]:
    """The definitions reachable from filter ``name`` (what one binding needs), parsed; missing ones left
    out."""
    out: dict[str, Filter] = {}
    pending = [name]
    while pending:
        current = pending.pop()
        record = reader.filter_by_name(current) if current not in out else None
        if record is not None:
            out[current] = record.definition
            pending.extend(ref.filter for ref in out[current].refs)
    return out


def has_loop(filters: Mapping[str, Filter], start: str) -> bool:
    """Whether any filterref cycle is reachable from ``start`` (self-references included)."""
    if start not in filters:
        return False
    # Iterative depth-first search: a long user-made chain of filters must not hit the recursion limit.
    on_path, done = {start}, set()
    stack = [(start, iter(filters[start].refs))]
    while stack:
        name, refs = stack[-1]
        ref = next(refs, None)
        if ref is None:
            stack.pop()
            on_path.discard(name)
            done.add(name)
        elif ref.filter in on_path:
            return True
        elif ref.filter in filters and ref.filter not in done:
            on_path.add(ref.filter)
            stack.append((ref.filter, iter(filters[ref.filter].refs)))
    return False


def check_ranges(definition: Filter) -> None:
    """A range whose end is below its start (ports 90 to 80, addresses .9 to .1, ICMP types) matches
    nothing in libvirt and cannot be written for nftables: refused at define time, saying where."""
    from ipaddress import ip_address

    from guestwall.instantiate.fields import COMPOSITES, Shape

    for number, rule in enumerate(definition.rules, start=1):
        if rule.match is None:
            continue
        attrs = rule.match.as_dict()
        for composite in COMPOSITES.get(rule.match.protocol, ()):
            low, high = attrs.get(composite.base), attrs.get(composite.extra or "")
            if composite.shape is not Shape.RANGE or low is None or high is None or low.is_var or high.is_var:
                continue
            try:
                a, b = (
                    (int(ip_address(str(low.value))), int(ip_address(str(high.value))))
                    if not isinstance(low.value, int)
                    else (low.value, int(high.value))  # type: ignore[arg-type]
                )
            except (TypeError, ValueError):
                continue
            if a > b:
                raise FilterError(
                    f"{composite.extra} '{high.value}' is below {composite.base} '{low.value}': "
                    "a range must not end before it starts",
                    Where(rule=number, element=rule.match.protocol, attribute=composite.extra),
                    code="invalid argument",
                )


def _refuse_unreadable(name: str, text: str) -> None:
    """What is stored must parse again: the canonical format can be larger than the input (indentation,
    quoting), and a stored filter above the parser's limit would wedge every later read of the store."""
    from guestwall.nwfilter.safexml import MAX_XML_BYTES

    size = len(text.encode())
    if size > MAX_XML_BYTES:
        raise FilterError(
            f"filter '{name}' would be stored as {size} bytes (its canonical format), above the limit of "
            f"{MAX_XML_BYTES} bytes: make it smaller",
            code="XML error",
        )


def _find(reader: Reader, name_or_uuid: str) -> FilterRecord:
    # virsh: an argument of UUID length is tried as a UUID first, then as a name.
    record = None
    if len(name_or_uuid) == 36:
        try:
            record = reader.filter_by_uuid(UUID(name_or_uuid))
        except ValueError:
            record = None
    if record is None:
        record = reader.filter_by_name(name_or_uuid)
    if record is None:
        raise NotFoundError(f"no nwfilter with matching name '{name_or_uuid}'")
    return record
