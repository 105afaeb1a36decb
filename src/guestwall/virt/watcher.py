"""The agent's libvirt part: running domains' assigned interfaces become bindings, and stop being ones.

Driven by the agent's loop: libvirt events (lifecycle, device, metadata) re-read one domain; every
(re)connect lists all domains (events are not kept while disconnected); a new port on the host (rtnetlink)
schedules a few re-reads, because libvirt 9.0's LXC driver sends no device event for a hot-plugged NIC; a
periodic listing is the safety net. Bindings are created and deleted through the same service functions as
the CLI's, each enforced before it is committed. Until a port is bound, the host configuration's
``guest_patterns`` drop its traffic (fail closed).

Which bindings are the watcher's: those whose owner UUID is a domain of this libvirt (defined or seen
running since the agent started). Bindings of other owners are never touched, except that a port a running
domain uses gets that domain's binding.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from uuid import UUID

from guestwall.dataplane.backend import Backend
from guestwall.engine import Engine
from guestwall.errors import GuestwallError
from guestwall.model import Binding
from guestwall.store.records import Store
from guestwall.virt.connection import Connection, DomainXML, Event
from guestwall.virt.domain import Domain, parse_domain

log = logging.getLogger("guestwall.agent.libvirt")

RECONNECT = 1.0
RESCAN_AFTER_LINK = (0.05, 0.3, 1.0)  # seconds after a port appeared: libvirt updates the live XML then


@dataclass(frozen=True)
class WatchSettings:
    uri: str
    interval: float = 5.0  # seconds between full listings (the safety net)


@dataclass
class SyncResult:
    created: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


class DomainWatcher:
    """State: the domains last read, which UUIDs are libvirt's, and the timers of the next looks."""

    def __init__(self, settings: WatchSettings, store: Store, backend: Backend) -> None:
        self.settings = settings
        self.store = store
        self.backend = backend
        self.engine = Engine(backend)  # the store's host settings
        self.connection = Connection(settings.uri)
        self.domains: dict[UUID, Domain] = {}
        self.ours: set[UUID] = set()
        self.warned: set[tuple[UUID, str]] = set()
        self.reconnect_at: float | None = time.monotonic()
        self.rescan_at: list[float] = []
        self.next_full = time.monotonic() + settings.interval

    def fileno(self) -> int:
        return self.connection.fileno()

    def close(self) -> None:
        self.connection.shutdown()

    def deadlines(self) -> list[float]:
        times = [self.next_full, *self.rescan_at]
        if self.reconnect_at is not None:
            times.append(self.reconnect_at)
        return times

    # ---- what wakes it ------------------------------------------------------------------------------------

    def on_events(self) -> None:
        changed: set[UUID] = set()
        for event in self.connection.drain():
            changed |= self._event(event)
        if changed and self.connection.connected:
            self._guard(lambda: self.sync_domains(changed))

    def _event(self, event: Event) -> set[UUID]:
        if event.kind == "closed":
            log.warning("libvirt connection to %s closed (%s); reconnecting", self.settings.uri, event.detail)
            self.connection.close()
            self.reconnect_at = time.monotonic() + RECONNECT
            return set()
        assert event.uuid is not None
        log.debug("libvirt event for domain %s: %s", event.uuid, event.detail)
        return {event.uuid}

    def on_ports_changed(self) -> None:
        """A port appeared or went on the host: look at libvirt again shortly (hot-plug sends no event)."""
        now = time.monotonic()
        self.rescan_at = sorted({*self.rescan_at, *(now + d for d in RESCAN_AFTER_LINK)})

    def run_timers(self) -> None:
        now = time.monotonic()
        if self.reconnect_at is not None and now >= self.reconnect_at:
            self._reconnect()
            return
        due = [t for t in self.rescan_at if t <= now]
        if due or now >= self.next_full:
            self.rescan_at = [t for t in self.rescan_at if t > now]
            self.next_full = now + self.settings.interval
            if self.connection.connected:
                self._guard(self.sync_all)

    def _reconnect(self) -> None:
        self.connection.close()
        try:
            self.connection.open()
        except GuestwallError as e:
            log.error("%s; retrying in %g s", e, RECONNECT)
            self.reconnect_at = time.monotonic() + RECONNECT
            return
        self.reconnect_at = None
        log.info("connected to libvirt at %s", self.settings.uri)
        self._guard(self.sync_all)

    def _guard(self, step: Callable[[], object]) -> None:
        try:
            step()
        except GuestwallError as e:
            log.error("libvirt sync failed: %s", e)
            if not self.connection.connected or "not connected" in str(e):
                self.reconnect_at = time.monotonic() + RECONNECT

    # ---- syncing ------------------------------------------------------------------------------------------

    def _parse(self, raw: DomainXML) -> Domain | None:
        try:
            return parse_domain(raw.xml, raw.active)
        except GuestwallError as e:
            log.error("domain %s (%s): %s; its bindings are left as they are", raw.name, raw.uuid, e)
            return None

    def sync_all(self) -> SyncResult:
        listed = self.connection.list_domains()
        parsed = {raw.uuid: self._parse(raw) for raw in listed}
        self.ours |= set(parsed)
        self.domains = {u: d for u, d in parsed.items() if d is not None}
        skip = {u for u, d in parsed.items() if d is None}
        return self._sync(self.ours - skip)

    def sync_domains(self, uuids: set[UUID]) -> SyncResult:
        skip = set()
        for uuid in uuids:
            raw = self.connection.domain(uuid)
            if raw is None:
                self.domains.pop(uuid, None)
                continue
            domain = self._parse(raw)
            if domain is None:
                skip.add(uuid)
                continue
            self.domains[uuid] = domain
        self.ours |= uuids
        return self._sync(uuids - skip)

    def _sync(self, owners: set[UUID]) -> SyncResult:
        from guestwall.nwfilter import format_binding, parse_binding
        from guestwall.services.bindings import list_bindings, with_mac_parameter

        desired: dict[str, Binding] = {}
        for uuid in owners:
            domain = self.domains.get(uuid)
            if domain is None:
                continue
            self._warn(domain)
            for binding in domain.bindings():
                desired[binding.portdev] = with_mac_parameter(binding)
        existing = {r.portdev: r for r in list_bindings(self.store)}
        result = SyncResult()
        for portdev, record in existing.items():
            owner = parse_binding(record.xml).owner.uuid
            wanted = desired.get(portdev)
            if wanted is not None and format_binding(wanted) == record.xml:
                del desired[portdev]  # already right
            elif owner in owners or wanted is not None:
                self._delete(portdev, result)
        for portdev, binding in sorted(desired.items()):
            self._create(format_binding(binding), portdev, result)
        if result.created or result.deleted or result.failed:
            log.info(
                "libvirt: bound %s; unbound %s%s",
                " ".join(result.created) or "nothing",
                " ".join(result.deleted) or "nothing",
                f"; failed {result.failed}" if result.failed else "",
            )
        return result

    def _create(self, xml: str, portdev: str, result: SyncResult) -> None:
        from guestwall.services.bindings import create_binding

        try:
            create_binding(self.store, xml, self.engine)
            result.created.append(portdev)
        except GuestwallError as e:
            # the port stays fail-closed (guest_patterns); the next listing tries again
            result.failed[portdev] = str(e)
            log.error("cannot bind %s: %s (its traffic stays dropped until it is bound)", portdev, e)

    def _delete(self, portdev: str, result: SyncResult) -> None:
        from guestwall.services.bindings import delete_binding

        try:
            delete_binding(self.store, portdev, self.engine)
            result.deleted.append(portdev)
        except GuestwallError as e:
            result.failed[portdev] = str(e)
            log.error("cannot unbind %s: %s", portdev, e)

    def _warn(self, domain: Domain) -> None:
        for nic, what in [(n, "double") for n in domain.double_filtered()] + [
            (n, "libvirt") for n in domain.left_to_libvirt()
        ]:
            if (domain.uuid, str(nic.mac) + what) in self.warned:
                continue
            self.warned.add((domain.uuid, str(nic.mac) + what))
            if what == "double":
                log.warning(
                    "domain %s interface %s has a <filterref filter='%s'> and a guestwall assignment: "
                    "libvirt's nwfilter filters it too (a frame must pass both); remove the <filterref>",
                    domain.name,
                    nic.mac,
                    nic.libvirt_filter,
                )
            else:
                log.info(
                    "domain %s interface %s has only a <filterref filter='%s'>: left to libvirt's nwfilter",
                    domain.name,
                    nic.mac,
                    nic.libvirt_filter,
                )
