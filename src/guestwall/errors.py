"""The exception tree of guestwall. Every error a user can cause or meet is one of these.

    GuestwallError                      base; ``code`` is libvirt's error-code phrase, kept for scripts
    ├── InputError                      what the user gave is wrong (nothing was changed)
    │   ├── XMLError                    not well-formed, unsafe (entities, DTD) or too large
    │   ├── FilterError                 a filter libvirt would reject; says where (rule, element, attribute)
    │   ├── BindingError                a <filterbinding> that libvirt would reject
    │   ├── CloudError                  a port, security group or provider block is invalid
    │   └── NetworkError                a <network> (or floating IP) libvirt would reject; names the network
    ├── NotFoundError                   no such filter, binding, port or group
    │   └── NetworkNotFoundError        no such network or floating IP
    ├── ConflictError                   already exists, UUID mismatch, would introduce a loop
    │   ├── InUseError                  still referenced by a filter or a binding
    │   ├── RevisionMismatch            the object changed since the caller read it (If-Match)
    │   └── NetworkStateError           the network is (not) active, a host entry exists (libvirt's
    │                                   "Requested operation is not valid")
    ├── InstantiationError              a binding cannot become rules (missing variable or filter, ...)
    ├── StoreError                      the database failed (translated from SQLAlchemy)
    │   └── MissingStoreError           there is no store at the URL (only commands that write create one)
    ├── DataplaneError                  the kernel or nft refused or is missing (from libnftables/nft)
    │   └── RenderError                 a value nftables' syntax cannot carry (a name with quotes ...)
    ├── LabError                        the namespace lab could not be built or removed
    └── LibvirtError                    libvirt is unreachable, refused a call, or libvirt-python is missing

Foreign exceptions (lxml, SQLAlchemy, subprocess, pyroute2, OSError from file reads, json) are translated
where they enter. Classes defined elsewhere subclass one of these nodes (e.g. ``ConfigError(InputError)``,
``BindingNotFound(NotFoundError)``). Outside the tree, on purpose (listed in tests/engine/test_error_tree.py):

    api.errors.ApiError, api.ui.session.Refused   an HTTP answer the API or dashboard decides itself (401,
                                                  403, ...); kept apart so no ``except GuestwallError``
                                                  around a page or the tree's status table intercepts it
    api.ui.session.LoginRequired                  a Refused (401)
    api.middleware._TooLarge                      must be starlette's HTTPException for FastAPI to route it
    simulate.evaluate._Decided                    control flow inside the simulator; never leaves it
"""

from __future__ import annotations

from dataclasses import dataclass


class GuestwallError(Exception):
    """Base of all guestwall errors. ``str(e)`` is one line a user can act on."""

    code = "internal error"

    @property
    def message(self) -> str:
        return str(self)

    def virsh_text(self) -> str:
        """The error as virsh prints its second line: the error-code phrase, then the message."""
        return f"{self.code}: {self}" if self.code else str(self)


class InputError(GuestwallError):
    code = "internal error"


class XMLError(InputError):
    code = "XML error"


@dataclass(frozen=True)
class Where:
    """Where in a filter an error is: rule number (1-based, in document order), element, attribute."""

    rule: int | None = None
    element: str | None = None
    attribute: str | None = None

    def __str__(self) -> str:
        parts = []
        if self.element:
            parts.append(f"element {self.element}")
        if self.rule is not None:
            parts.append(f"rule {self.rule}")
        return f" ({', '.join(parts)})" if parts else ""


class FilterError(InputError):
    """A filter definition that is invalid. The message names the attribute and value; ``where`` the place."""

    def __init__(self, message: str, where: Where | None = None, code: str | None = None) -> None:
        self.where = where or Where()
        self.text = message
        if code is not None:
            self.code = code
        super().__init__(f"{message}{self.where}")


class BindingError(InputError):
    pass


class CloudError(InputError):
    code = "invalid argument"


class NetworkError(InputError):
    """A network definition libvirt would reject; ``code`` is libvirt's phrase for it ("" for none)."""

    def __init__(self, message: str, code: str = "XML error") -> None:
        self.code = code
        super().__init__(message)


class NotFoundError(GuestwallError):
    code = "Network filter not found"


class NetworkNotFoundError(NotFoundError):
    code = "Network not found"


class ConflictError(GuestwallError):
    code = "operation failed"


class InUseError(ConflictError):
    code = "Requested operation is not valid"


class RevisionMismatch(ConflictError):
    """A change was made on condition of a revision (If-Match) the object no longer has."""

    code = ""


class NetworkStateError(ConflictError):
    code = "Requested operation is not valid"


class InstantiationError(GuestwallError):
    code = "internal error"


class StoreError(GuestwallError):
    code = "internal error"


class MissingStoreError(StoreError):
    pass


class DataplaneError(GuestwallError):
    code = "internal error"


class LabError(GuestwallError):
    code = "internal error"


class RenderError(DataplaneError):
    code = "internal error"


class LibvirtError(GuestwallError):
    code = "internal error"
