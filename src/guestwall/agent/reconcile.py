"""Keep one namespace's kernel equal to the store: converge, check for drift, record learned addresses.

Locking, the same order everywhere (so nothing deadlocks and no update is lost): the store's write lock
first, then the namespace's kernel lock. The CLI enforces inside its write transactions (store lock, then
kernel lock during apply, then commit); the agent converges inside a write transaction too, even when it
only reads, so it never applies a store state that a concurrent command is about to replace. Checks for
drift take no lock: they only read, and a difference leads to a converge, which takes both.
Nothing is kept in files: the desired state is rebuilt from the store, the actual one read from the kernel.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from guestwall.agent.observe import Observation
from guestwall.config import HostConfig
from guestwall.dataplane.backend import Backend
from guestwall.dataplane.diff import Transaction
from guestwall.dataplane.fingerprints import ChainKey
from guestwall.dataplane.links import Link
from guestwall.engine import Desired, Engine
from guestwall.instantiate.learning import LearningMode
from guestwall.store.records import Reader, Store


@dataclass
class Outcome:
    """What one converge did."""

    transaction: Transaction
    tampered: list[ChainKey] = field(default_factory=list)
    rebuilt: bool = False
    seconds: float = 0.0

    def summary(self) -> str:
        counts = self.transaction.counts()
        what = ", ".join(f"{n} {verb}" for verb, n in sorted(counts.items())) or "no change"
        if self.tampered:
            what += f" (refilled {len(self.tampered)} chain(s) edited in place)"
        return f"{what} in {self.seconds * 1000:.0f} ms"


class Reconciler:
    def __init__(self, store: Store, backend: Backend, config: HostConfig, netns: str | None) -> None:
        self.store = store
        self.config = config
        self.netns = netns
        self.links: dict[str, Link] = {}
        self.engine = Engine(backend, config, links=lambda: self.links.values(), watch=True)
        self.desired: Desired | None = None
        self.generation: int | None = None  # the store generation ``desired`` was built from
        self._implicit: tuple[tuple[str, str], ...] = ()

    # ---- desired state ----------------------------------------------------------------------------

    def implicit_signature(self) -> tuple[tuple[str, str], ...]:
        """What of the namespace's interfaces enters the desired state: guest ports, when unbound ones get
        the default filter."""
        if not self.config.default_filtered:
            return ()
        return tuple(sorted((n, link.mac) for n, link in self.links.items() if self.config.is_guest_port(n)))

    def _build(self, reader: Reader) -> Desired:
        return self.engine.desired(reader, strict=False)

    def set_config(self, config: HostConfig) -> None:
        self.config = self.engine.settings = config
        self.desired = None

    def set_links(self, links: Iterable[Link]) -> bool:
        """Replace the known interfaces; True when that changes the desired state."""
        self.links = {link.name: link for link in links}
        return self.implicit_signature() != self._implicit

    def converge(self, rebuild: bool = False, verify: bool = False) -> Outcome:
        """Bring the kernel to the store's current state (rebuilding the desired state if the store, the
        configuration or the relevant interfaces changed, or when asked; ``verify``: see kernel.verify)."""
        started = time.perf_counter()
        with self.store.write() as txn:
            generation = txn.generation()
            implicit = self.implicit_signature()
            fresh = (
                rebuild or self.desired is None or generation != self.generation or implicit != self._implicit
            )
            if fresh:
                self.desired = self._build(txn)
                self.generation, self._implicit = generation, implicit
            assert self.desired is not None
            result = self.engine.converge(self.desired, verify=verify)
        return Outcome(result.transaction, list(result.tampered), fresh, time.perf_counter() - started)

    def drift(self) -> str | None:
        """Why a converge is needed (the store moved on, the kernel differs), or None. Takes no lock."""
        if self.desired is None or self.store.generation() != self.generation:
            return "store changed"
        return self.engine.drift(self.desired)

    # ---- learned addresses ------------------------------------------------------------------------------

    def learn(self, portdev: str, observations: list[Observation]) -> list[Observation]:
        """Record what was observed on a learning port, and enforce it in the same transaction. Returns the
        observations that changed something (an ``any`` port keeps its first address only)."""
        applied: list[Observation] = []
        with self.store.write() as txn:
            if txn.binding(portdev) is None:
                return []
            current = self.desired if self.desired is not None else self._build(txn)
            learning = current.learning.get(portdev)
            if learning is None:
                return []
            known = {str(a.ip): a for a in txn.learned_addresses(portdev)}
            for obs in observations:
                if obs.kind == "learn":
                    if learning.mode is LearningMode.ANY and known:
                        continue
                    old = known.get(str(obs.ip))
                    if old is not None and old.expires_at == obs.expires_at:
                        continue
                    known[str(obs.ip)] = txn.learn_address(portdev, obs.ip, obs.source, obs.expires_at)
                    applied.append(obs)
                elif txn.forget_addresses(portdev, [obs.ip]):
                    known.pop(str(obs.ip), None)
                    applied.append(obs)
            if not applied:
                return []
            desired = self._build(txn)
            self.engine.converge(desired)
            self.desired, self.generation = desired, None  # the commit moves the generation on
        return applied

    def expire(self, now: datetime | None = None) -> int:
        """Remove leases whose time has run out, and enforce that; returns how many."""
        with self.store.write() as txn:
            count = txn.expire_addresses(now or datetime.now(UTC))
            if count:
                desired = self._build(txn)
                self.engine.converge(desired)
                self.desired, self.generation = desired, None
        return count

    def next_expiry(self) -> datetime | None:
        with self.store.read() as reader:
            times = [a.expires_at for a in reader.learned_addresses() if a.expires_at is not None]
        return min(times) if times else None
