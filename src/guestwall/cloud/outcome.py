"""What a cloud use case did, returned by every change (no side channel): the object it made or changed, the
kernel transaction, the connections killed because they lost their rule, and warnings for the user.

``CloudContext`` is what every use case runs on: the store, the engine that enforces a change, and the
conntrack seam for killing revoked connections (None: none are killed, e.g. another host's kernel).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from guestwall.cloud.conntrack import Conntrack, Flow
from guestwall.dataplane.apply import ApplyResult
from guestwall.engine import Engine
from guestwall.store.records import Store

T = TypeVar("T", covariant=True)
DEFAULT_PROJECT = "default"


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """One change's result. ``applied`` is None when the kernel had nothing to do (a rename)."""

    value: T
    applied: ApplyResult | None = None
    killed: tuple[Flow, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class CloudContext:
    """The store the use cases read and write, the engine enforcing changes (None: reads only, a change
    raises), and the conntrack seam for revoked connections (None: they are not looked at)."""

    store: Store
    engine: Engine | None = None
    conntrack: Conntrack | None = None
