"""Who owns a stored filter or binding: the user (virsh-style commands) or the cloud layer (generated).

The cloud layer derives filters (``gw-*``) and the bindings of its ports from security groups, ports and
provider blocks. Changing them with the low-level commands would leave the cloud objects claiming a
protection the kernel no longer enforces (``port show`` says port security is on, the binding is gone), so
those commands refuse them, naming the owner and the command to use instead. The cloud layer itself writes
them through the store directly (guestwall.cloud.sync), never through these use cases.
"""

from __future__ import annotations

from guestwall.errors import ConflictError
from guestwall.store.records import BindingRecord, Reader

# the prefix of every name the cloud layer generates (guestwall.cloud.translate.DERIVED_PREFIX)
CLOUD_PREFIX = "gw-"


class OwnedError(ConflictError):
    """A low-level command was asked to change an object another layer owns."""

    code = "Requested operation is not valid"


def cloud_owned_filter(name: str) -> bool:
    return name.startswith(CLOUD_PREFIX)


def cloud_owned_binding(record: BindingRecord) -> bool:
    """A binding the cloud layer wrote: its top filter is one of the generated ones."""
    return cloud_owned_filter(record.filter)


def check_filter_change(name: str, command: str) -> None:
    """Refuse defining, editing or undefining a generated filter (or a new one in the reserved names)."""
    if cloud_owned_filter(name):
        raise OwnedError(
            f"filter '{name}' is owned by the cloud layer (names starting with '{CLOUD_PREFIX}' are "
            f"generated from security groups, ports and provider blocks): {command} cannot change it; use "
            "'guestwall secgroup', 'guestwall port' or 'guestwall provider'"
        )


def check_binding_change(reader: Reader, portdev: str, command: str) -> None:
    """Refuse changing the binding of a cloud port (its port keeps claiming port security otherwise)."""
    check_binding_record(reader.binding(portdev), portdev, command)


def check_binding_record(record: BindingRecord | None, portdev: str, command: str) -> None:
    """``check_binding_change`` with the stored binding of ``portdev`` (None: there is none) at hand."""
    if record is not None and cloud_owned_binding(record):
        raise OwnedError(
            f"the binding on {portdev} is owned by the cloud layer (port {portdev}): {command} cannot "
            f"change it; use 'guestwall port delete {portdev}' or 'guestwall port update {portdev} ...'"
        )


def check_binding_filter(filter_name: str, portdev: str) -> None:
    """Refuse a new low-level binding to a generated top filter: it would pass for a cloud port."""
    if cloud_owned_filter(filter_name):
        raise OwnedError(
            f"binding {portdev}: filter '{filter_name}' is owned by the cloud layer; create a cloud port "
            f"with 'guestwall port create {portdev} ...' or bind a filter of your own"
        )
