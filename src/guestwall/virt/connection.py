"""The one place that talks to libvirt: a read-only connection, its event thread, and a wake-up socket.

libvirt-python is imported here only, and only when a connection is opened, so guestwall works without it
(``pip install guestwall[libvirt]``). Callbacks run on libvirt's event thread; they only queue what
happened and wake the agent's selector, which does the work on its own thread (libvirt connections are
thread-safe). Events are not kept while disconnected, so every (re)connect is followed by a full listing.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import threading
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from guestwall.errors import LibvirtError

log = logging.getLogger("guestwall.agent.libvirt")

_loop_lock = threading.Lock()
_loop_started = False


@dataclass(frozen=True)
class DomainXML:
    """A domain as libvirt gave it: parsed by the caller, so one bad domain does not hide the others."""

    uuid: UUID
    name: str
    active: bool
    xml: str


@dataclass(frozen=True)
class Event:
    """``kind`` is "domain" (a domain changed: re-read it) or "closed" (the connection dropped)."""

    kind: str
    uuid: UUID | None = None
    detail: str = ""


def _libvirt() -> Any:
    try:
        import libvirt
    except ImportError:
        raise LibvirtError(
            "libvirt-python is not installed: pip install 'guestwall[libvirt]' "
            "(it builds against libvirt-dev and pkg-config)"
        ) from None
    return libvirt


def _start_event_loop(libvirt: Any) -> None:
    """libvirt's default event loop, once per process, on a daemon thread (needed before connecting)."""
    global _loop_started
    with _loop_lock:
        if _loop_started:
            return
        libvirt.virEventRegisterDefaultImpl()
        libvirt.registerErrorHandler(lambda _ctx, _err: None, None)  # errors arrive as exceptions instead

        def run() -> None:
            while True:
                libvirt.virEventRunDefaultImpl()

        threading.Thread(target=run, name="libvirt-events", daemon=True).start()
        _loop_started = True


class Connection:
    """A read-only libvirt connection with lifecycle/device/metadata events queued for the agent."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._conn: Any = None
        self._callbacks: list[int] = []

    def fileno(self) -> int:
        return self._wake_r.fileno()

    @property
    def connected(self) -> bool:
        return self._conn is not None

    def open(self) -> None:
        libvirt = _libvirt()
        _start_event_loop(libvirt)
        try:
            conn = libvirt.openReadOnly(self.uri)
            conn.setKeepAlive(5, 3)
            conn.registerCloseCallback(self._on_close, None)
            ids = [
                libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                libvirt.VIR_DOMAIN_EVENT_ID_DEVICE_ADDED,
                libvirt.VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
                libvirt.VIR_DOMAIN_EVENT_ID_METADATA_CHANGE,
            ]
            self._callbacks = [conn.domainEventRegisterAny(None, i, self._on_domain, i) for i in ids]
        except libvirt.libvirtError as e:
            raise LibvirtError(f"cannot connect to libvirt at {self.uri}: {e.get_error_message()}") from None
        self._conn = conn

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            libvirt = _libvirt()
            for cb in self._callbacks:
                with contextlib.suppress(libvirt.libvirtError):
                    conn.domainEventDeregisterAny(cb)
            try:
                conn.unregisterCloseCallback()
                conn.close()
            except libvirt.libvirtError:
                pass
        self._callbacks = []

    def shutdown(self) -> None:
        self.close()
        self._wake_r.close()
        self._wake_w.close()

    def drain(self) -> list[Event]:
        try:
            while self._wake_r.recv(256):
                pass
        except (BlockingIOError, OSError):
            pass
        out = []
        while True:
            try:
                out.append(self.events.get_nowait())
            except queue.Empty:
                return out

    # ---- callbacks (libvirt's event thread) ------------------------------------------------------------

    def _push(self, event: Event) -> None:
        self.events.put(event)
        with contextlib.suppress(OSError):  # a full socket: already awake
            self._wake_w.send(b"x")

    def _on_domain(self, _conn: Any, dom: Any, *args: Any) -> None:
        self._push(Event("domain", UUID(dom.UUIDString()), repr(args[:-1])))

    def _on_close(self, _conn: Any, reason: int, _opaque: Any) -> None:
        self._push(Event("closed", detail=f"reason {reason}"))

    # ---- reading domains (agent thread) ------------------------------------------------------------------

    def _call(self, what: str, fn: Any, *args: Any) -> Any:
        libvirt = _libvirt()
        if self._conn is None:
            raise LibvirtError(f"not connected to libvirt at {self.uri}")
        try:
            return fn(*args)
        except libvirt.libvirtError as e:
            raise LibvirtError(f"libvirt at {self.uri}: {what}: {e.get_error_message()}") from None

    def list_domains(self) -> list[DomainXML]:
        """Every domain, active or not (inactive ones own no bindings; their UUIDs mark bindings as ours)."""
        doms = self._call("listing domains", self._conn.listAllDomains, 0)
        out = []
        for dom in doms:
            domain = self._read(dom)
            if domain is not None:
                out.append(domain)
        return out

    def domain(self, uuid: UUID) -> DomainXML | None:
        """One domain, or None when it no longer exists (an undefined or stopped transient domain)."""
        libvirt = _libvirt()
        if self._conn is None:
            raise LibvirtError(f"not connected to libvirt at {self.uri}")
        try:
            dom = self._conn.lookupByUUIDString(str(uuid))
        except libvirt.libvirtError as e:
            if e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return None
            raise LibvirtError(f"libvirt at {self.uri}: looking up {uuid}: {e.get_error_message()}") from None
        return self._read(dom)

    def _read(self, dom: Any) -> DomainXML | None:
        libvirt = _libvirt()
        try:
            active = bool(dom.isActive())
            xml = dom.XMLDesc(0)
        except libvirt.libvirtError as e:
            if e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return None  # went away between listing and reading
            raise LibvirtError(f"libvirt at {self.uri}: reading a domain: {e.get_error_message()}") from None
        return DomainXML(UUID(dom.UUIDString()), dom.name(), active, xml)


def read_nwfilters(uri: str) -> tuple[list[str], list[str]]:
    """Every nwfilter definition and binding of a libvirt (read-only, no events), for import-libvirt."""
    libvirt = _libvirt()
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    try:
        conn = libvirt.openReadOnly(uri)
    except libvirt.libvirtError as e:
        raise LibvirtError(f"cannot connect to libvirt at {uri}: {e.get_error_message()}") from None
    try:
        filters = [f.XMLDesc(0) for f in conn.listAllNWFilters(0)]
        bindings = [b.XMLDesc(0) for b in conn.listAllNWFilterBindings(0)]
    except libvirt.libvirtError as e:
        raise LibvirtError(f"libvirt at {uri}: reading nwfilters: {e.get_error_message()}") from None
    finally:
        conn.close()
    return filters, bindings
