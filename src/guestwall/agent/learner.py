"""The agent's IP address learning: one packet socket (snoop.Snooper) per learning port that exists, what
the frames say recorded and enforced through the Reconciler, and DHCP leases expired on time."""

from __future__ import annotations

import logging
import selectors
import time
from datetime import UTC, datetime
from ipaddress import IPv4Address

from guestwall.agent.observe import Watch
from guestwall.agent.reconcile import Reconciler
from guestwall.agent.snoop import Snooper
from guestwall.config import HostConfig
from guestwall.engine.desired import Learning
from guestwall.errors import GuestwallError

log = logging.getLogger("guestwall.agent")

RETRY = 1.0


def watch_of(learning: Learning) -> Watch:
    return Watch(learning.mac, learning.mode, tuple(IPv4Address(s) for s in learning.servers))


class Learner:
    def __init__(self, reconciler: Reconciler, selector: selectors.BaseSelector, config: HostConfig) -> None:
        self.reconciler = reconciler
        self.selector = selector
        self.config = config
        self.snoopers: dict[str, Snooper] = {}
        self.expiry_at: float | None = None  # monotonic time of the next lease expiry
        self.resync_at: float | None = None  # after a socket failed: open it again then

    def sync(self) -> None:
        """Watch exactly the ports that learn now (desired state) and exist (links)."""
        self.resync_at = None
        desired = self.reconciler.desired
        links = self.reconciler.links
        wanted: dict[str, Learning] = {}
        if desired is not None:
            wanted = {dev: ln for dev, ln in desired.learning.items() if ln.snoop and dev in links}
        for dev, snooper in list(self.snoopers.items()):
            learning = wanted.get(dev)
            if learning is None or snooper.ifindex != links[dev].index or snooper.watch != watch_of(learning):
                self._drop(snooper)
                log.debug("stopped watching %s for IP learning", dev)
        for dev, learning in sorted(wanted.items()):
            if dev in self.snoopers:
                continue
            try:
                snooper = Snooper(
                    self.reconciler.netns,
                    dev,
                    links[dev].index,
                    watch_of(learning),
                    self.config.dhcp_rate,
                    self.config.dhcp_burst,
                )
            except GuestwallError as e:
                log.warning("%s", e)
                continue
            self.snoopers[dev] = snooper
            self.selector.register(snooper, selectors.EVENT_READ, lambda s=snooper: self.on_frames(s))
            log.info("learning the IP address of %s (%s)", dev, learning.mode.value)

    def _drop(self, snooper: Snooper) -> None:
        self.selector.unregister(snooper)
        snooper.close()
        del self.snoopers[snooper.portdev]

    def on_frames(self, snooper: Snooper) -> None:
        try:
            observations = snooper.read(datetime.now(UTC))
        except GuestwallError as e:
            log.warning("%s; watching it again in %g s", e, RETRY)
            self._drop(snooper)
            self.resync_at = time.monotonic() + RETRY
            return
        if not observations:
            return
        try:
            applied = self.reconciler.learn(snooper.portdev, observations)
        except GuestwallError as e:
            log.error("cannot record what was learned on %s: %s", snooper.portdev, e)
            return
        for obs in applied:
            until = f", until {obs.expires_at:%Y-%m-%d %H:%M:%S}Z" if obs.expires_at else ""
            verb = "learned" if obs.kind == "learn" else "forgot"
            log.info("%s %s on %s (%s%s)", verb, obs.ip, snooper.portdev, obs.source, until)
        if applied:
            self.sync()
            self.schedule_expiry()

    def schedule_expiry(self) -> None:
        try:
            when = self.reconciler.next_expiry()
        except GuestwallError as e:
            log.error("cannot read lease times: %s", e)
            self.expiry_at = time.monotonic() + RETRY
            return
        if when is None:
            self.expiry_at = None
            return
        delay = (when - datetime.now(UTC)).total_seconds()
        self.expiry_at = time.monotonic() + max(0.0, delay)

    def expire(self) -> None:
        self.expiry_at = None
        try:
            count = self.reconciler.expire()
        except GuestwallError as e:
            log.error("cannot expire leases: %s", e)
            self.expiry_at = time.monotonic() + RETRY
            return
        if count:
            log.info("%d lease(s) expired", count)
            self.sync()
        self.schedule_expiry()

    def close(self) -> None:
        for snooper in self.snoopers.values():
            snooper.close()
        self.snoopers.clear()
