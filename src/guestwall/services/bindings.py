"""Binding use cases (create, delete, look up, list), shared by the CLI, the REST API and the agent.

A binding is stored and enforced in one step: the kernel is changed inside the store's write transaction,
before commit, so an error at any point (bad XML, missing filter, unresolvable variable, kernel refusal)
leaves both the store and the kernel as they were.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from guestwall.dataplane.apply import ApplyResult
from guestwall.engine import Change, Engine, bound_port, converge
from guestwall.errors import ConflictError, InstantiationError, NotFoundError
from guestwall.model import Binding, FilterRef, make_params
from guestwall.services.ownership import check_binding_change, check_binding_filter, check_binding_record
from guestwall.store.records import BindingRecord, ReadableStore, Store

# Beyond this many bindings created at once, reading every stored binding costs less than one look-up each.
_ONE_BY_ONE = 32


class BindingNotFound(NotFoundError):
    code = "Network filter binding not found"


def with_mac_parameter(binding: Binding) -> Binding:
    """The binding as it is stored: with parameter MAC (``instantiate.build.nic_parameters``)."""
    from guestwall.instantiate.build import nic_parameters

    params = nic_parameters(binding)
    if len(params) == len(binding.filterref.params):
        return binding
    return replace(binding, filterref=FilterRef(binding.filterref.filter, make_params(params)))


def create_binding(
    store: Store, xml: str | bytes, engine: Engine, *, validate: bool = False
) -> tuple[BindingRecord, ApplyResult]:
    """``validate``: also the checks of libvirt's binding schema (nwfilter-binding-create --validate)."""
    from guestwall.nwfilter import format_binding, parse_binding

    binding = with_mac_parameter(parse_binding(xml, validate=validate))
    check_binding_filter(binding.filterref.filter, binding.portdev)
    with store.write() as writer:
        existing = writer.binding(binding.portdev)
        check_binding_record(existing, binding.portdev, "nwfilter-binding-create")
        if existing is not None:
            raise ConflictError(f"binding '{binding.portdev}' already exists")
        if writer.filter_by_name(binding.filterref.filter) is None:
            raise InstantiationError(f"referenced filter '{binding.filterref.filter}' is missing")
        # given the binding, the store does not parse its text again, nor does enforcement below
        text = format_binding(binding)
        record = writer.add_binding(binding.portdev, binding.filterref.filter, text, binding)
        return record, engine.apply(writer, Change(added=(record.portdev,)))


def create_bindings(
    store: Store, xmls: Sequence[str | bytes], engine: Engine, *, validate: bool = False
) -> tuple[list[BindingRecord], ApplyResult]:
    """Create many bindings in one store transaction and one kernel transaction (all or nothing)."""
    from guestwall.nwfilter import format_binding, parse_binding

    bindings = [with_mac_parameter(parse_binding(xml, validate=validate)) for xml in xmls]
    for binding in bindings:
        check_binding_filter(binding.filterref.filter, binding.portdev)
    with store.write() as writer:
        if len(bindings) > _ONE_BY_ONE:  # one query for all, not one per binding
            existing = {r.portdev: r for r in writer.bindings()}
            for binding in bindings:
                record = existing.get(binding.portdev)
                check_binding_record(record, binding.portdev, "nwfilter-binding-create")
        else:
            for binding in bindings:
                check_binding_change(writer, binding.portdev, "nwfilter-binding-create")
        for name in sorted({b.filterref.filter for b in bindings}):
            if writer.filter_by_name(name) is None:
                raise InstantiationError(f"referenced filter '{name}' is missing")
        rows = [(b.portdev, b.filterref.filter, format_binding(b)) for b in bindings]
        records = writer.add_bindings(rows, bindings)  # nothing parses their text again
        return records, engine.apply(writer, Change(added=tuple(r.portdev for r in records)))


def delete_binding(store: Store, portdev: str, engine: Engine) -> ApplyResult:
    with store.write() as writer:
        record = writer.binding(portdev)
        if record is None:
            raise _not_found(portdev)
        check_binding_change(writer, portdev, "nwfilter-binding-delete")
        gone = bound_port(writer, record)  # as it is enforced now, learned addresses included
        writer.delete_binding(portdev)
        return engine.apply(writer, Change(removed=(gone,)))


def move_binding(store: Store, portdev: str, host: str, engine: Engine) -> str:
    """Give a binding to ``host``; returns its old host. When it leaves or joins the host this store acts
    for, that kernel is updated in the same transaction; every other host's agent follows the change log."""
    with store.write() as writer:
        old = writer.move_binding(portdev, host)
        if store.host in (old, host) and old != host:
            engine.apply(writer, converge())
        return old


def get_binding(store: ReadableStore, portdev: str) -> BindingRecord:
    with store.read() as reader:
        record = reader.binding(portdev)
        if record is None:
            raise _not_found(portdev)
        return record


def list_bindings(store: ReadableStore) -> list[BindingRecord]:
    """All bindings sorted by port device, case-insensitively (as virsh)."""
    with store.read() as reader:
        return sorted(reader.bindings(), key=lambda r: (r.portdev.lower(), r.portdev))


def reapply(store: Store, engine: Engine, *, allow_empty: bool = False) -> ApplyResult:
    """Make the kernel equal to the store (drift repair, or after a restart). A store without bindings
    may not remove ports the kernel enforces unless ``allow_empty`` (services.emptystore).

    Inside a write transaction although nothing is written: the store's write lock, then the kernel lock, as
    every enforcing use case and the agent take them, so a command that has applied its change but not yet
    committed it cannot be undone by this older read of the store.
    """
    return reapply_restoring(store, engine, allow_empty=allow_empty)[0]


def reapply_restoring(
    store: Store, engine: Engine, *, allow_empty: bool = False
) -> tuple[ApplyResult, list[str]]:
    """``reapply``, first restoring what the cloud objects derive and the store lacks (a cloud port's
    binding, a generated filter); returns what was restored too."""
    from guestwall.cloud.integrity import restore
    from guestwall.services.emptystore import refuse_emptying

    with store.write() as writer:
        restored = restore(writer)
        desired = engine.desired(writer)
        if not allow_empty:
            refuse_emptying(writer, desired, engine.backend, store.url)
        return engine.converge(desired), restored


def _not_found(portdev: str) -> BindingNotFound:
    return BindingNotFound(f"no nwfilter binding for port dev '{portdev}'")
