"""The agent's main loop: one thread, one selector, a few timers.

What wakes it: signals (SIGTERM/SIGINT stop it, SIGHUP forces a full reconcile with the configuration read
again), rtnetlink link events (ports appearing and disappearing), ``nft monitor`` lines about our tables
(drift: check within milliseconds), learning sockets (frames of ports whose IP is learned), store
notifications (PostgreSQL LISTEN: a revision was committed), and timers (store revision poll, periodic
kernel check, lease expiry, retry after an error, heartbeat). A new revision is followed through the change
log: only a change that concerns this host (its bindings, or what every host uses) touches the kernel.
It never flushes anything: a start or a restart with nothing changed changes nothing in the kernel, and a
stop leaves the rules in place.
"""

from __future__ import annotations

import fcntl
import gc
import logging
import os
import selectors
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING

from guestwall.agent.changelog import LISTENING_POLL, RECONNECT, Listener
from guestwall.agent.control import ControlServer, open_control
from guestwall.agent.droplog import DropLog
from guestwall.agent.learner import Learner
from guestwall.agent.metrics import MetricsServer, Tallies, render
from guestwall.agent.monitor import NftMonitor
from guestwall.agent.reconcile import ConvergeResult, Reconciler
from guestwall.agent.statefile import lock_path, now_text, write_state
from guestwall.agent.status import StatusReporter
from guestwall.config import HostConfig, config_path, load_config
from guestwall.dataplane.apply import LOCK_DIR
from guestwall.dataplane.backend import Backend
from guestwall.dataplane.links import LinkWatcher, list_links
from guestwall.errors import DataplaneError, GuestwallError
from guestwall.store.records import Store

if TYPE_CHECKING:
    from guestwall.compile.droplog import LogRule
    from guestwall.virt.watcher import DomainWatcher, WatchSettings

log = logging.getLogger("guestwall.agent")

DEBOUNCE = 0.02  # seconds between an nft monitor event and the check (a burst of events is one check)
RETRY = 1.0
MONITOR_RESTART = 1.0
REPAIR_STREAK = 3  # repairs without a clean check in between before the agent slows down
MAX_REPAIR_PAUSE = 30.0
# After a CLI command run here (agent.control), which enforced its change itself, the agent waits this long
# for the next one before it follows the store (a burst of commands is followed once), at most MAX_HOLD.
CONTROL_QUIET = 0.5
MAX_HOLD = 2.0


@dataclass(frozen=True)
class AgentSettings:
    netns: str | None
    config_path: str | None = None
    host: str | None = None  # default: records.this_host()
    allow_empty: bool = False  # may create a missing store, and apply one without bindings at start
    libvirt: WatchSettings | None = None  # follow this libvirt's domains (guestwall.virt)
    metrics: str | None = None  # HOST:PORT of the Prometheus endpoint (agent/metrics.py)


def notify(message: str) -> None:
    """sd_notify(3): tell systemd (Type=notify) that we are ready or stopping; nothing without systemd."""
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return
    address = "\0" + path[1:] if path.startswith("@") else path
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(message.encode(), address)
    except OSError as e:
        log.warning("cannot notify systemd at %s: %s", path, e.strerror)


class Agent:
    def __init__(self, settings: AgentSettings, config: HostConfig, store: Store, backend: Backend) -> None:
        self.settings = settings
        self.netns = settings.netns
        self.config = config
        self.store = store
        self.reconciler = Reconciler(store, backend, config, settings.netns)
        self.selector = selectors.DefaultSelector()
        self.learner = Learner(self.reconciler, self.selector, config)
        self.watcher: LinkWatcher | None = None
        self.monitor: NftMonitor | None = None
        self.virt: DomainWatcher | None = None
        self.droplog: DropLog | None = None
        self._droplog_error: str | None = None
        self.tallies = Tallies()
        self.metrics: MetricsServer | None = None
        self.control: ControlServer | None = None  # runs CLI commands warm (agent.control)
        self.db_url = store.url  # the store's URL as given (open_agent), password included
        self.hold_until: float | None = None  # no follow or check before (CONTROL_QUIET)
        self._hold_since = 0.0
        self.stopping = False
        self.hup = False
        self.ready = False
        now = time.monotonic()
        self.next_poll = now + config.poll_interval
        self.next_check = now + config.check_interval
        self.check_at: float | None = None
        self.retry_at: float | None = None
        self.monitor_at: float | None = None
        self.repairs = 0
        self.repair_hold = 0.0
        self.listener: Listener | None = Listener(store) if Listener.supported(store) else None
        self.listen_at: float | None = None
        self.status = StatusReporter(store, store.host)
        self._wake_r, self._wake_w = socket.socketpair()
        self._agent_lock: int | None = None
        self.state: dict[str, object] = {"pid": os.getpid(), "started": now_text()}

    # ---- lifecycle ------------------------------------------------------------------------------------

    def _take_agent_lock(self) -> None:
        """One agent per namespace: a second one would only do the same work twice (and learn twice)."""
        os.makedirs(LOCK_DIR, exist_ok=True)
        path = lock_path(self.netns)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        for attempt in range(5):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if attempt < 4:
                    time.sleep(0.05)  # ``guestwall status`` holds it shared for an instant to look
        else:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise DataplaneError(
                f"another agent already runs for network namespace {self.netns or '(own)'} (pid {holder})"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._agent_lock = fd  # held (and released by the kernel) for the life of the process

    def start(self) -> None:
        self._take_agent_lock()
        for sock in (self._wake_r, self._wake_w):
            sock.setblocking(False)
        signal.set_wakeup_fd(self._wake_w.fileno(), warn_on_full_buffer=False)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        self.selector.register(self._wake_r, selectors.EVENT_READ, self._drain_wakeups)
        self.watcher = LinkWatcher(self.netns)  # subscribed before listing: no change falls in between
        self.selector.register(self.watcher, selectors.EVENT_READ, self._on_links)
        self.reconciler.set_links(list_links(self.netns).values())
        self._start_monitor()
        if self.settings.metrics:
            self.metrics = MetricsServer(self.settings.metrics, self._metrics)
            log.info("metrics on http://%s/metrics", self.metrics.bound)
        if self.settings.libvirt is not None:
            from guestwall.virt.watcher import DomainWatcher

            self.virt = DomainWatcher(self.settings.libvirt, self.store, self.reconciler.backend)
            self.selector.register(self.virt, selectors.EVENT_READ, self.virt.on_events)
        if self.listener is not None:
            self._listen()
        self.control = open_control(LOCK_DIR, self.netns, self.db_url, self.store.host, log.warning)
        if self.control is not None:
            self.selector.register(self.control, selectors.EVENT_READ, self._on_control)

    def run(self) -> int:
        self.start()
        log.info(
            "agent starting: host %s, namespace %s, store %s, config %s",
            self.store.host,
            self.netns or "(own)",
            self.store.url,
            self.config.source or "(defaults)",
        )
        cli_config = os.path.abspath(config_path()[0])
        if self.settings.config_path and os.path.abspath(self.settings.config_path) != cli_config:
            log.warning(
                "configuration %s is not the one the CLI reads (%s): both must build the same state",
                self.settings.config_path,
                cli_config,
            )
        try:
            self._guarded(self._start_converge)
            if self.control is not None:
                self._guarded(self.control.warm_up)  # the first command is as quick as the next ones
            # What start-up loaded (modules, the store's metadata, compiled statements) lives as long as
            # the agent: the collector's full passes need not walk it again. With it, a first apply of 1000
            # ports spent 70 of its 280 ms in two full passes over ~100,000 such objects.
            gc.freeze()
            while not self.stopping:
                timeout = max(0.0, self._next_deadline() - time.monotonic())
                for key, _events in self.selector.select(timeout):
                    callback: Callable[[], None] = key.data
                    self._guarded(callback)
                    if self.stopping:
                        break
                self._guarded(self._run_timers)
        finally:
            self.close()
        log.info("agent stopped (rules left in place)")
        return 0

    def _start_converge(self) -> None:
        self.converge("start")

    def _guarded(self, step: Callable[[], None]) -> None:
        """One step of the loop; an unexpected error is logged and the loop goes on (the rules stay, and
        the next timer or event converges again) rather than leaving the host without its agent."""
        try:
            step()
        except Exception:
            log.exception("unexpected error in the agent loop; carrying on")
            self.retry_at = time.monotonic() + RETRY

    def close(self) -> None:
        notify("STOPPING=1")
        self.learner.close()
        if self.virt is not None:
            self.virt.close()
        if self.droplog is not None:
            self.droplog.close()
        if self.metrics is not None:
            self.metrics.close()
        if self.control is not None:
            self.control.close()
        if self.monitor is not None:
            self.monitor.close()
        if self.listener is not None:
            self.listener.close()
        if self.watcher is not None:
            self.watcher.close()
        self.selector.close()
        signal.set_wakeup_fd(-1)
        self._wake_r.close()
        self._wake_w.close()
        if self._agent_lock is not None:
            os.close(self._agent_lock)
            self._agent_lock = None

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            self.hup = True
        else:
            self.stopping = True

    def _on_control(self) -> None:
        assert self.control is not None
        if not self.control.serve_one():
            return
        now = time.monotonic()
        if not self._holding(now):
            self._hold_since = now
        self.hold_until = min(now + CONTROL_QUIET, self._hold_since + MAX_HOLD)

    def _holding(self, now: float) -> bool:
        return self.hold_until is not None and now < self.hold_until

    def _drain_wakeups(self) -> None:
        try:
            while self._wake_r.recv(64):
                pass
        except BlockingIOError:
            pass

    def _record(self, **fields: object) -> None:
        """The state file ``guestwall status`` reads (agent.statefile); a failure to write it is logged."""
        self.state.update(fields)
        try:
            write_state(self.netns, self.state)
        except OSError as e:
            log.warning("cannot write the agent state file: %s", e.strerror)

    # ---- converging -----------------------------------------------------------------------------------

    def converge(
        self, reason: str, rebuild: bool = False, verify: bool = False, follow: bool = False
    ) -> ConvergeResult | None:
        """Converge (``follow``: only if the new revisions concern this host) and report the result."""
        try:
            result = self.reconciler.follow() if follow else self.reconciler.converge(rebuild, verify)
        except GuestwallError as e:
            log.error("converge (%s) failed: %s; retrying in %g s", reason, e, RETRY)
            self.retry_at = time.monotonic() + RETRY
            self._record(last_error=f"{now_text()} {reason}: {e}")
            self.status.error(f"{reason}: {e}")
            return None
        self.retry_at = None
        self._converge_networks(reason)
        self.status.applied(self.reconciler.generation)
        if self.droplog is None and self._log_rules():
            self._open_droplog()
        if isinstance(result, str):
            log.debug("revision %s: %s", self.reconciler.generation, result)
            return None
        outcome = result
        if outcome.transaction:
            self.tallies.transactions += 1
        for gap in self.reconciler.restored:
            log.warning("restored %s (derived from the cloud objects, missing in the store)", gap)
        self.reconciler.restored = []
        self.learner.config = self.reconciler.config  # the store's host settings (DHCP snooping rates)
        when = now_text()
        if outcome.transaction or outcome.tampered:
            self._record(
                last_converge=when, last_repair=f"{when} {reason}: {outcome.summary()}", last_error=None
            )
        else:
            self._record(last_converge=when, last_error=None)
        noteworthy = bool(outcome.transaction or outcome.tampered) or reason in ("start", "SIGHUP")
        log.log(
            logging.INFO if noteworthy else logging.DEBUG, "converged (%s): %s", reason, outcome.summary()
        )
        self.learner.sync()
        self.learner.schedule_expiry()
        if not self.ready:
            self.ready = True
            notify("READY=1")
            log.info("agent ready")
        return outcome

    def _converge_networks(self, reason: str) -> None:
        """Virtual networks (guestwall.networks): bridges, dnsmasq and host rules as the store says; at
        start-up, autostart networks are started (as libvirtd does at boot)."""
        from guestwall.networks.runtime import converge_store

        try:
            actions = converge_store(
                self.store, self.netns, autostart=reason == "start", engine=self.reconciler.engine
            )
        except GuestwallError as e:
            log.error("networks: converge (%s) failed: %s", reason, e)
            return
        for action in actions:
            log.info("networks: %s", action)

    def _next_deadline(self) -> float:
        if self._holding(time.monotonic()):  # poll and checks wait for the hold's end
            times = [self.status.beat_at, self.hold_until or 0.0]
        else:
            times = [self.next_poll, self.next_check, *([self.check_at] if self.check_at is not None else [])]
            times.append(self.status.beat_at)
        times += [
            t
            for t in (
                self.retry_at,
                self.learner.expiry_at,
                self.learner.resync_at,
                self.monitor_at,
                self.listen_at,
            )
            if t is not None
        ]
        if self.virt is not None:
            times += self.virt.deadlines()
        if self.droplog is not None:
            times.append(self.droplog.next_count)
        if self.hup:
            times.append(0.0)
        return min(times)

    def _run_timers(self) -> None:
        now = time.monotonic()
        if self.hup:
            self.hup = False
            self._reload()
        if self.retry_at is not None and now >= self.retry_at:
            self.converge("retry")
        if self.monitor_at is not None and now >= self.monitor_at:
            self._start_monitor()
        if self.listen_at is not None and now >= self.listen_at:
            self._listen()
        held = self._holding(now)
        if now >= self.next_poll and not held:
            self.next_poll = now + self._poll_interval()
            self._poll()
        if now >= self.status.beat_at:
            self.status.beat()
        if ((self.check_at is not None and now >= self.check_at) or now >= self.next_check) and not held:
            reason = (
                "our tables changed"
                if self.check_at is not None and now >= self.check_at
                else "periodic check"
            )
            self.check_at = None
            self.next_check = now + self.config.check_interval
            self._check(reason)
        if self.learner.expiry_at is not None and now >= self.learner.expiry_at:
            self.learner.expire()
        if self.learner.resync_at is not None and now >= self.learner.resync_at:
            self.learner.sync()
        if self.virt is not None:
            self.virt.run_timers()
        if self.droplog is not None and now >= self.droplog.next_count:
            try:
                self.droplog.count(self._log_rules())
            except GuestwallError as e:
                log.error("cannot read the drop log's counters: %s", e)

    def _poll(self) -> None:
        try:
            generation = self.store.generation()
        except GuestwallError as e:
            log.error("cannot read the store: %s", e)
            return
        if generation != self.reconciler.generation:
            self.converge("store changed", follow=True)

    def _poll_interval(self) -> float:
        listening = self.listener is not None and self.listener.connection is not None
        return max(self.config.poll_interval, LISTENING_POLL) if listening else self.config.poll_interval

    # ---- store notifications ------------------------------------------------------------------------

    def _listen(self) -> None:
        assert self.listener is not None
        self.listen_at = None
        if not self.listener.connect():
            self.listen_at = time.monotonic() + RECONNECT
            return
        self.selector.register(self.listener, selectors.EVENT_READ, self._on_notify)
        if self.ready:
            log.info(
                "listening for store changes again; catching up from revision %s", self.reconciler.generation
            )
            self.converge("listening again", follow=True)  # what was not notified meanwhile

    def _on_notify(self) -> None:
        assert self.listener is not None
        payloads, alive = self.listener.read()
        if not alive:
            self.selector.unregister(self.listener)
            self.listener.close()
            self.listen_at = time.monotonic() + RECONNECT
            self.next_poll = min(self.next_poll, time.monotonic() + self.config.poll_interval)
        if not payloads:
            return
        if self._holding(time.monotonic()):
            self.next_poll = min(self.next_poll, self.hold_until or 0.0)  # followed when the hold ends
        elif self.reconciler.skip_notified(payloads):
            self.status.applied(self.reconciler.generation, urgent=False)  # sent with the heartbeat
            log.debug("revision %s: not concerned (notified)", self.reconciler.generation)
        else:
            self.converge("store changed", follow=True)

    def _check(self, reason: str) -> None:
        self._converge_networks(reason)
        try:
            why = self.reconciler.drift()
        except GuestwallError as e:
            log.error("kernel check failed: %s", e)
            why = "check failed"
        if why == "store changed":
            self.converge(why, follow=True)
        elif why is not None:
            now = time.monotonic()
            if now < self.repair_hold:
                self.check_at = self.repair_hold
                return
            outcome = self.converge(f"{reason}: repair")
            if outcome is not None and outcome.transaction:
                self.tallies.repairs += 1
            self.repairs = self.repairs + 1 if outcome is not None and outcome.transaction else 0
            if outcome is not None and outcome.transaction:
                self.status.repaired()
            if self.repairs >= REPAIR_STREAK:
                # every repair is undone at once (or never holds): something fights us, or the kernel does
                # not keep what we apply; do not spin, keep trying with growing pauses
                pause = min(MAX_REPAIR_PAUSE, 2.0 ** (self.repairs - REPAIR_STREAK))
                self.repair_hold = now + pause
                log.warning("%d repairs in a row did not hold; next one in %g s", self.repairs, pause)
        else:
            self.repairs = 0
            log.debug("checked (%s): the kernel equals the store", reason)

    def _reload(self) -> None:
        log.info("SIGHUP: reading the configuration again, verifying every rule, reconciling everything")
        try:
            config = load_config(self.settings.config_path)
        except GuestwallError as e:
            log.error("configuration not reloaded, the previous one stays: %s", e)
            config = self.config
        self.config = config
        self.learner.config = config
        self.reconciler.set_config(config)
        try:
            self.reconciler.set_links(list_links(self.netns).values())
        except GuestwallError as e:
            log.error("cannot list interfaces: %s", e)
        self.converge("SIGHUP", rebuild=True, verify=True)

    # ---- ports --------------------------------------------------------------------------------------

    def _on_links(self) -> None:
        assert self.watcher is not None
        try:
            events, resync = self.watcher.read()
            links = dict(self.reconciler.links)
            if resync:
                links = list_links(self.netns)
        except (OSError, GuestwallError) as e:
            log.error("reading link events failed: %s", e)
            return
        for event in events:
            link = event.link
            for name in [n for n, known in links.items() if known.index == link.index and n != link.name]:
                del links[name]  # renamed
            if event.kind == "new":
                if link.name not in links and self._interesting(link.name):
                    log.info("port %s appeared", link.name)
                links[link.name] = link
            elif links.pop(link.name, None) is not None and self._interesting(link.name):
                log.info("port %s disappeared", link.name)
        if events and self.virt is not None:
            self.virt.on_ports_changed()
        if self.reconciler.set_links(links.values()):
            self.converge("guest ports changed")  # converges the networks too
        else:
            if any(e.kind != "new" for e in events):
                self._converge_networks("port removed")  # a lease whose port went is released
            self.learner.sync()

    def _interesting(self, name: str) -> bool:
        desired = self.reconciler.desired
        config = self.reconciler.config  # the store's host settings
        return config.is_guest_port(name) or (desired is not None and name in desired.programs)

    # ---- drop log -------------------------------------------------------------------------------------

    def _open_droplog(self) -> None:
        """Bound once a port logs (so hosts without logging neither hold the group nor write the file)."""
        try:
            droplog = DropLog(self.config, self.netns, self.reconciler.backend)
            droplog.count(self._log_rules())  # the reference for "skipped": what the limits cut from now on
        except (GuestwallError, OSError) as e:
            if str(e) != self._droplog_error:  # tried again at every converge; said once
                log.warning("no drop log: %s", e)
            self._droplog_error = str(e)
            return
        self.droplog = droplog
        self.selector.register(droplog, selectors.EVENT_READ, self._on_droplog)
        log.info("drop log: nfnetlink_log group %d -> %s", self.config.log_group, self.config.log_path)

    def _log_rules(self) -> dict[str, LogRule]:
        desired = self.reconciler.desired
        return desired.compiled.log_rules if desired is not None else {}

    def _on_droplog(self) -> None:
        assert self.droplog is not None
        ports = {link.index: name for name, link in self.reconciler.links.items()}
        self.tallies.log_records += self.droplog.read(self._log_rules(), ports)

    def _metrics(self) -> str:
        """The Prometheus text, on the metrics server's thread (reads only)."""
        desired = self.reconciler.desired
        ports = sorted(desired.programs) if desired is not None else []
        if self.droplog is not None:
            self.tallies.log_skipped = self.droplog.skipped
        return render(self.reconciler.backend, self.netns, ports, self.tallies)

    # ---- nft monitor -----------------------------------------------------------------------------------

    def _start_monitor(self) -> None:
        self.monitor_at = None
        monitor = NftMonitor(self.netns)
        try:
            monitor.start()
        except OSError as e:
            log.warning("cannot start nft monitor (%s); periodic checks only, retrying", e)
            self.monitor_at = time.monotonic() + MONITOR_RESTART
            return
        self.monitor = monitor
        self.selector.register(monitor, selectors.EVENT_READ, self._on_monitor)
        self.check_at = time.monotonic() + DEBOUNCE  # what happened while no monitor ran is unknown

    def _on_monitor(self) -> None:
        assert self.monitor is not None
        ours, ended = self.monitor.read()
        if ended:
            log.warning("nft monitor ended; restarting it in %g s", MONITOR_RESTART)
            self.selector.unregister(self.monitor)
            self.monitor.close()
            self.monitor = None
            self.monitor_at = time.monotonic() + MONITOR_RESTART
        if ours and self.check_at is None:
            self.check_at = time.monotonic() + DEBOUNCE


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger("guestwall")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


def open_agent(settings: AgentSettings, db_url: str) -> Agent:
    """The agent for one namespace and store (opening both); raises GuestwallError."""
    from guestwall.dataplane.backend import open_backend
    from guestwall.services.emptystore import open_for_enforcing

    config = load_config(settings.config_path)
    backend = open_backend(settings.netns)
    store = open_for_enforcing(db_url, settings.host, backend, settings.allow_empty)
    agent = Agent(settings, config, store, backend)
    agent.db_url = db_url
    if not settings.allow_empty:
        agent.reconciler.guard_empty = store.url
    return agent
