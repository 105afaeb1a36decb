"""Binding use cases (create, delete, look up, list), shared by the CLI, the REST API and the agent.

A binding is stored and enforced in one step: the kernel is changed inside the store's write transaction,
before commit, so an error at any point (bad XML, missing filter, unresolvable variable, kernel refusal)
leaves both the store and the kernel as they were.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from guestwall.dataplane.apply import ApplyResult, apply
from guestwall.dataplane.backend import Backend
from guestwall.errors import ConflictError, InstantiationError, NotFoundError
from guestwall.model import Binding, FilterRef, make_params
from guestwall.services.enforce import enforce_from, stored_binding
from guestwall.services.filters import load_filters
from guestwall.services.incremental import apply_changes, port_part
from guestwall.services.ownership import check_binding_change, check_binding_filter
from guestwall.store.records import BindingRecord, ReadableStore, Store


class BindingNotFound(NotFoundError):
    code = "Network filter binding not found"


def with_mac_parameter(binding: Binding) -> Binding:
    """libvirt adds the NIC's MAC as parameter MAC when a binding is instantiated, unless one is given."""
    params = binding.filterref.param_dict()
    if "MAC" in params:
        return binding
    params["MAC"] = (binding.mac,)
    return replace(binding, filterref=FilterRef(binding.filterref.filter, make_params(params)))


def create_binding(store: Store, xml: str | bytes, backend: Backend) -> tuple[BindingRecord, ApplyResult]:
    from guestwall.nwfilter import format_binding, parse_binding

    binding = with_mac_parameter(parse_binding(xml))
    check_binding_filter(binding.filterref.filter, binding.portdev)
    with store.write() as writer:
        check_binding_change(writer, binding.portdev, "nwfilter-binding-create")
        if writer.binding(binding.portdev) is not None:
            raise ConflictError(f"binding '{binding.portdev}' already exists")
        if writer.filter_by_name(binding.filterref.filter) is None:
            raise InstantiationError(f"referenced filter '{binding.filterref.filter}' is missing")
        record = writer.add_binding(binding.portdev, binding.filterref.filter, format_binding(binding))
        # only this port's rules: the cost does not grow with the other ports (else everything)
        part = port_part(writer, record)
        result = apply_changes(writer, backend, added=[part]) if part is not None else None
        return record, result or enforce_from(writer, load_filters(writer), backend)


def create_bindings(
    store: Store, xmls: Sequence[str | bytes], backend: Backend
) -> tuple[list[BindingRecord], ApplyResult]:
    """Create many bindings in one store transaction and one kernel transaction (all or nothing)."""
    from guestwall.nwfilter import format_binding, parse_binding

    bindings = [with_mac_parameter(parse_binding(xml)) for xml in xmls]
    for binding in bindings:
        check_binding_filter(binding.filterref.filter, binding.portdev)
    with store.write() as writer:
        for binding in bindings:
            check_binding_change(writer, binding.portdev, "nwfilter-binding-create")
        for name in sorted({b.filterref.filter for b in bindings}):
            if writer.filter_by_name(name) is None:
                raise InstantiationError(f"referenced filter '{name}' is missing")
        texts = [format_binding(b) for b in bindings]
        for text, binding in zip(texts, bindings, strict=True):
            stored_binding(text, binding)  # enforcement below reads them back: no second parse
        records = writer.add_bindings(
            [(b.portdev, b.filterref.filter, t) for b, t in zip(bindings, texts, strict=True)]
        )
        result = enforce_from(writer, load_filters(writer), backend)
        return records, result


def delete_binding(store: Store, portdev: str, backend: Backend) -> ApplyResult:
    with store.write() as writer:
        record = writer.binding(portdev)
        if record is None:
            raise _not_found(portdev)
        check_binding_change(writer, portdev, "nwfilter-binding-delete")
        part = port_part(writer, record)
        writer.delete_binding(portdev)
        result = None
        if part is not None:
            # the port's shared chains stay while others use its filter; the last one takes them along
            retired = [part] if writer.count_bindings(record.filter) == 0 else []
            result = apply_changes(writer, backend, removed=[part], retired=retired)
        return result or enforce_from(writer, load_filters(writer), backend)


def move_binding(store: Store, portdev: str, host: str, backend: Backend) -> str:
    """Give a binding to ``host``; returns its old host. When it leaves or joins the host this store acts
    for, that kernel is updated in the same transaction; every other host's agent follows the change log."""
    with store.write() as writer:
        old = writer.move_binding(portdev, host)
        if store.host in (old, host) and old != host:
            enforce_from(writer, load_filters(writer), backend)
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


def reapply(store: Store, backend: Backend, *, allow_empty: bool = False) -> ApplyResult:
    """Make the kernel equal to the store (drift repair, or after a restart). A store without bindings
    may not remove ports the kernel enforces unless ``allow_empty`` (services.emptystore).

    Inside a write transaction although nothing is written: the store's write lock, then the kernel lock, as
    every enforcing use case and the agent take them, so a command that has applied its change but not yet
    committed it cannot be undone by this older read of the store.
    """
    return reapply_restoring(store, backend, allow_empty=allow_empty)[0]


def reapply_restoring(
    store: Store, backend: Backend, *, allow_empty: bool = False
) -> tuple[ApplyResult, list[str]]:
    """``reapply``, first restoring what the cloud objects derive and the store lacks (a cloud port's
    binding, a generated filter); returns what was restored too."""
    from guestwall.cloud.integrity import restore
    from guestwall.services.emptystore import refuse_emptying
    from guestwall.services.enforce import desired_state

    with store.write() as writer:
        restored = restore(writer)
        filters = load_filters(writer)
        if allow_empty:
            return enforce_from(writer, filters, backend), restored
        desired = desired_state(writer, filters, netns=backend.netns)
        refuse_emptying(writer, desired, backend, store.url)
        return apply(desired.compiled.ruleset, backend), restored


def _not_found(portdev: str) -> BindingNotFound:
    return BindingNotFound(f"no nwfilter binding for port dev '{portdev}'")
