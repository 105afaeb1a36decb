"""Keep one namespace's kernel equal to the store: converge, check for drift, record learned addresses.

Locking, the same order everywhere (so nothing deadlocks and no update is lost): the store's write lock
first, then the namespace's kernel lock. The CLI enforces inside its write transactions (store lock, then
kernel lock during apply, then commit); the agent converges inside a write transaction too, even when it
only reads, so it never applies a store state that a concurrent command is about to replace. Checks for
drift take no lock: they only read, and a difference leads to a converge, which takes both.
Nothing is kept in files: the desired state is rebuilt from the store, the actual one read from the kernel.
Many hosts: the store is read as the agent's host sees it (its bindings, everyone's filters and sets), and
the change log says whether a new revision concerns this host at all (see ``follow``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from guestwall.agent.observe import Observation
from guestwall.cloud.integrity import missing, restore
from guestwall.config import HostConfig
from guestwall.dataplane.backend import Backend
from guestwall.dataplane.fingerprints import ChainKey
from guestwall.dataplane.links import Link
from guestwall.engine import Desired, Engine
from guestwall.instantiate.learning import LearningMode
from guestwall.nft.commands import Transaction
from guestwall.services.hostsettings import host_config
from guestwall.store.records import Reader, Store, parse_payload

# What ``follow`` did with a new revision.
FOLLOWED_NOTHING = "nothing new"
FOLLOWED_SKIPPED = "not concerned"


@dataclass
class ConvergeResult:
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
        self.backend = backend
        self.config = config
        self.file_config = config  # as read from the file; ``config`` follows the store's host settings
        self.netns = netns
        self.links: dict[str, Link] = {}
        self.desired: Desired | None = None
        self.generation: int | None = None  # the store revision ``desired`` (and the kernel) stand for
        self._implicit: tuple[tuple[str, str], ...] = ()
        # the one way to the kernel; it remembers the chains it left (to notice edits in place)
        self.engine = Engine(backend, config, links=lambda: self.links.values(), watch=True)
        self.restored: list[str] = []  # what the last rebuild restored from the cloud objects
        # until the first converge succeeds: the store's name, when an empty store may not wipe the kernel
        self.guard_empty: str | None = None

    # ---- desired state ----------------------------------------------------------------------------

    def implicit_signature(self) -> tuple[tuple[str, str], ...]:
        """What of the namespace's interfaces enters the desired state: guest ports, when unbound ones get
        the default filter."""
        if not self.config.default_filtered:
            return ()
        return tuple(sorted((n, link.mac) for n, link in self.links.items() if self.config.is_guest_port(n)))

    def _build(self, reader: Reader) -> Desired:
        # the store's host settings with the file's agent timings (services.hostsettings)
        self.config = self.engine.settings = host_config(reader, self.file_config)
        return self.engine.desired(reader, strict=False)

    def set_config(self, config: HostConfig) -> None:
        self.config = self.file_config = config
        self.desired = None

    def set_links(self, links: Iterable[Link]) -> bool:
        """Replace the known interfaces; True when that changes the desired state."""
        self.links = {link.name: link for link in links}
        return self.implicit_signature() != self._implicit

    # ---- kernel ---------------------------------------------------------------------------------------

    def _apply(self, desired: Desired, verify: bool = False) -> tuple[Transaction, list[ChainKey]]:
        """Make the kernel equal to ``desired`` through the engine (it takes the kernel lock). With
        ``verify`` every chain's rules are compared exactly with what ``desired`` renders to."""
        result = self.engine.converge(desired, verify=verify)
        return result.transaction, list(result.tampered)

    def concerned(self, reader: Reader, since: int | None) -> bool:
        """Whether what was committed after revision ``since`` concerns this host. The log is read before its
        floor: a prune that commits in between raises the floor, and then the answer is a snapshot (yes)."""
        if since is None:
            return True
        changes = reader.changes_after(since)
        if since < reader.log_floor():
            return True  # the log no longer covers us: rebuild from a snapshot (what is gone goes)
        return any(change.concerns(self.store.host) for change in changes)

    def skip_notified(self, payloads: Iterable[str]) -> bool:
        """Move on without reading the store when notifications (delivered in commit order on one
        connection) name every revision after ours and none concerns this host; False when the store
        must be read (a gap, a change of ours or of every host's, or nothing built yet)."""
        for payload in payloads:
            parsed = parse_payload(payload)
            if parsed is None or self.generation is None or self.desired is None:
                return False
            revision, hosts = parsed
            if revision <= self.generation:
                continue
            if revision != self.generation + 1 or hosts is None or self.store.host in hosts:
                return False
            self.generation = revision
        return True

    def follow(self) -> ConvergeResult | str:
        """A new revision may have been committed: converge if it concerns this host; otherwise only note
        it (no kernel access). Returns what converge did, or FOLLOWED_NOTHING / FOLLOWED_SKIPPED."""
        with self.store.read() as reader:
            revision = reader.generation()
            if revision == self.generation and self.desired is not None:
                return FOLLOWED_NOTHING
            if self.desired is not None and not self.concerned(reader, self.generation):
                self.generation = revision
                return FOLLOWED_SKIPPED
        return self.converge()

    def converge(self, rebuild: bool = False, verify: bool = False, restored: bool = False) -> ConvergeResult:
        """Bring the kernel to the store's current state (rebuilding the desired state if what changed in the
        store concerns this host, if the configuration or the relevant interfaces changed, or when asked;
        ``verify``: see kernel.verify)."""
        started = time.perf_counter()
        with self.store.guarded_read() as txn:
            generation = txn.generation()
            implicit = self.implicit_signature()
            fresh = rebuild or self.desired is None or implicit != self._implicit
            if not fresh and generation != self.generation:
                fresh = self.concerned(txn, self.generation)
            gaps = missing(txn) if fresh and not restored else []
            if fresh and not gaps:
                self.desired = self._build(txn)
                self._implicit = implicit
            if not gaps:
                assert self.desired is not None
                if self.guard_empty is not None:
                    from guestwall.services.emptystore import refuse_emptying

                    refuse_emptying(txn, self.desired, self.backend, self.guard_empty)
                tx, tampered = self._apply(self.desired, verify)
                self.guard_empty = None
                self.generation = generation  # only now: a failed build or apply is tried again
        if gaps:
            # a cloud port's binding or a generated filter gone missing: restore it (a write), then enforce
            with self.store.write() as writer:
                self.restored = restore(writer)
            return self.converge(rebuild=True, verify=verify, restored=True)
        return ConvergeResult(tx, tampered, fresh, time.perf_counter() - started)

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
            self._apply(desired)
            self.desired, self.generation = desired, None  # the commit moves the generation on
        return applied

    def expire(self, now: datetime | None = None) -> int:
        """Remove leases whose time has run out, and enforce that; returns how many."""
        with self.store.write() as txn:
            count = txn.expire_addresses(now or datetime.now(UTC))
            if count:
                desired = self._build(txn)
                self._apply(desired)
                self.desired, self.generation = desired, None
        return count

    def next_expiry(self) -> datetime | None:
        with self.store.read() as reader:
            times = [a.expires_at for a in reader.learned_addresses() if a.expires_at is not None]
        return min(times) if times else None
