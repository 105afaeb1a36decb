"""The one entry point from a change in the store to the kernel: ``Engine(backend, settings).apply(txn, c)``.

Every front end (CLI, cloud layer, agent, API) describes what it changed (``engine.changes``) inside its
store transaction and calls the engine before committing; the engine picks the incremental path or the full
one, holds the namespace's kernel lock, diffs, runs one transaction and falls back to the full path by
itself. A kernel refusal or a port that cannot be instantiated raises, so the caller's transaction aborts and
store and kernel stay as they were. The store transaction is the caller's (the order of locks is the store's
first, then the kernel's, everywhere), which is why it is an argument of ``apply`` and not of the engine.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

from guestwall.compile import names
from guestwall.compile.ruleset import Ruleset
from guestwall.config import HostConfig
from guestwall.dataplane.apply import ApplyResult, kernel_lock
from guestwall.dataplane.backend import Backend
from guestwall.dataplane.diff import Transaction, diff
from guestwall.dataplane.fingerprints import Fingerprints, mark, mark_tampered, read_kernel
from guestwall.dataplane.fingerprints import verify as verify_chains
from guestwall.dataplane.state import ActualTable, read_sets, read_state, read_terse
from guestwall.engine.changes import Change
from guestwall.engine.desired import Desired, bound_port, desired_state, load_definitions
from guestwall.engine.incremental import plan_filter_change, port_part, transaction
from guestwall.engine.stages import run_staged
from guestwall.errors import DataplaneError
from guestwall.model import AddressSet, Filter
from guestwall.store.records import Reader

if TYPE_CHECKING:  # pyroute2 is loaded when links are listed, not by every command that enforces
    from guestwall.dataplane.links import Link

# Beyond this many ports added at once, one full compile costs less than compiling each port alone.
ADD_ALONE_LIMIT = 64


class Engine:
    """Enforcement for one network namespace. State it guards: in ``watch`` mode (the agent, long-lived),
    the fingerprints of the chains it left, to notice rules edited in place (``dataplane.fingerprints``)."""

    def __init__(
        self,
        backend: Backend,
        settings: HostConfig | None = None,
        *,
        links: Callable[[], Iterable[Link]] | None = None,
        watch: bool = False,
    ) -> None:
        """``settings``: the host's, or None for those the store holds for this host (read in each
        transaction: services.hostsettings). ``links``: the namespace's interfaces as the caller knows them
        (the agent follows them); by default they are listed when the settings need them (unbound guest
        ports under a default filter)."""
        self.backend = backend
        self.settings = settings
        self.watch = watch
        self.trusted: Fingerprints = {}
        self._links = links

    # ---- the entry point ------------------------------------------------------------------------------

    def apply(self, txn: Reader, change: Change) -> ApplyResult:
        """Enforce ``change``, written in ``txn`` and not yet committed: incrementally when it can, else
        everything (``txn`` as it is now is the desired state). The networks' tables: ``_networks``."""
        if change.networks:
            return self._networks(txn)
        if not change.full:
            result = self._incremental(txn, change)
            if result is not None:
                return result
        with collector_paused():
            return self.converge(self.desired(txn, filters=change.filters.after if change.filters else None))

    def desired(
        self, txn: Reader, *, filters: Mapping[str, Filter] | None = None, strict: bool = True
    ) -> Desired:
        """What the kernel should hold by the store as ``txn`` sees it. ``strict``: a bound port that cannot
        be instantiated raises (a front end's change); else it is reported and dropped (the agent)."""
        settings = self.settings_in(txn)
        return desired_state(txn, settings, self.links(settings), filters=filters, strict=strict)

    def settings_in(self, txn: Reader) -> HostConfig:
        """The host settings that apply in ``txn``."""
        if self.settings is not None:
            return self.settings
        from guestwall.services.hostsettings import host_config

        return host_config(txn)

    def links(self, settings: HostConfig) -> Iterable[Link]:
        if not settings.default_filtered:
            return ()
        if self._links is not None:
            return self._links()
        from guestwall.dataplane.links import list_links

        return list_links(self.backend.netns).values()

    def plan(self, txn: Reader) -> Transaction:
        """What converging would run now (without running it)."""
        return diff(self.desired(txn).compiled.ruleset, read_state(self.backend))

    # ---- the full path ----------------------------------------------------------------------------------

    def converge(self, desired: Desired, *, verify: bool = False) -> ApplyResult:
        """Make the kernel equal to ``desired``: read our tables, diff, one transaction. ``verify``: compare
        every chain's rules exactly with what ``desired`` renders to (see ``fingerprints.verify``)."""
        with kernel_lock(self.backend.netns):
            t0 = time.perf_counter()
            if self.watch or verify:
                state, prints = read_kernel(self.backend)
            else:
                state, prints = read_state(self.backend, families=tuple(desired.compiled.ruleset.tables)), {}
            tampered = mark_tampered(state, self.trusted, prints)
            if verify:
                wrong = [
                    k
                    for k in verify_chains(self.backend, desired.compiled.ruleset, prints)
                    if k not in tampered
                ]
                mark(state, wrong)
                tampered += wrong
            tx = diff(desired.compiled.ruleset, state)
            t1 = time.perf_counter()
            if tx:
                self._run_whole(tx)
                if self.watch:
                    prints = read_kernel(self.backend)[1]
            if self.watch:
                self.trusted = prints
            return ApplyResult(tx, t1 - t0, time.perf_counter() - t1, tuple(tampered))

    def drift(self, desired: Desired) -> str | None:
        """Why the kernel is not ``desired`` (rules edited in place, a difference), or None. Takes no lock:
        it only reads, and a difference leads to a converge, which takes it."""
        state, prints = read_kernel(self.backend)
        if mark_tampered(state, self.trusted, prints):
            return "rules edited in place"
        if diff(desired.compiled.ruleset, state):
            return "kernel differs"
        self.trusted = prints
        return None

    # ---- the incremental path ------------------------------------------------------------------------------

    def _incremental(self, txn: Reader, change: Change) -> ApplyResult | None:
        """Only what ``change`` touches, built against terse listings; None when only the full path does."""
        settings = self.settings_in(txn)
        if settings.default_filtered:
            return None  # unbound guest ports under the default filter may change with anything
        if len(change.added) > ADD_ALONE_LIMIT:
            return None
        options = settings.options()
        edit = change.filters
        found = [txn.binding(device) for device in change.added]
        records = [r for r in found if r is not None]
        if len(records) != len(found):
            return None
        if edit:
            stored = (edit.before, edit.after)
        else:  # the trees of the ports' filters, in one query
            tops = {p.record.filter for p in change.removed} | {r.filter for r in records}
            stored = (load_definitions(txn, tops),) * 2
        with kernel_lock(self.backend.netns):
            t0 = time.perf_counter()
            # ports that come are checked against our chains as the kernel holds them (their rules'
            # digests, no elements); otherwise the set declarations are all a plan reads
            existing = read_terse(self.backend) if records else read_sets(self.backend)
            declared = existing.get(names.INET)
            sets = LazySets(lambda: hollow_sets(txn, declared))
            plan = None
            if edit is not None:
                plan = plan_filter_change(txn, edit.before, edit.after, sets, options)
                if plan is None:
                    return None
                if not plan.after and not (change.added or change.removed or change.sets):
                    # no port uses the edited ones
                    return ApplyResult(Transaction(), 0.0, 0.0, incremental=True)
            removed = [port_part(port, stored[0], sets, options) for port in change.removed]
            added = [port_part(bound_port(txn, record), stored[1], sets, options) for record in records]
            # a group no port uses any more takes its chains along
            retired = [
                part
                for port, part in zip(change.removed, removed, strict=True)
                if txn.count_bindings(port.record.filter) == 0
            ]
            tx = transaction(
                txn,
                self.backend,
                existing,
                filters=plan,
                removed=removed,
                added=added,
                sets=sorted(change.sets),
                retired=retired,
                previous=change.previous,
                lagging=change.lagging,
            )
            if tx is None:
                return None
            t1 = time.perf_counter()
            if tx:
                try:
                    run_staged(self.backend, tx)
                except DataplaneError:
                    return None  # the kernel is not as expected: the full path settles it
            return ApplyResult(tx, t1 - t0, time.perf_counter() - t1, incremental=True)

    def _run_whole(self, tx: Transaction) -> None:
        """One transaction of a full path: a refusal is final (one transaction: the kernel kept its state)."""
        try:
            self.backend.run(tx)
        except DataplaneError as e:
            raise DataplaneError(f"{e} (nothing was changed)") from e

    # ---- the virtual networks' tables ----------------------------------------------------------------------

    def networks_desired(self, txn: Reader) -> Ruleset:
        """What the networks' tables (``ip/ip6 guestwall``) should hold by the store as ``txn`` sees it."""
        from guestwall.networks.desired import desired_tables, host_options

        return desired_tables(txn, host_options())

    def _networks(self, txn: Reader) -> ApplyResult:
        """The networks' tables made equal to the store's, whole (a few chains and map elements a network):
        under the same kernel lock, read, diff, one transaction; a refusal changes nothing and raises."""
        desired = self.networks_desired(txn)
        with kernel_lock(self.backend.netns):
            t0 = time.perf_counter()
            tx = diff(desired, read_state(self.backend, families=tuple(desired.tables)))
            t1 = time.perf_counter()
            if tx:
                self._run_whole(tx)
            return ApplyResult(tx, t1 - t0, time.perf_counter() - t1)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector held off while a whole ruleset is built and applied: that makes
    tens of thousands of objects which live on and form no cycles, and a full collection in the middle walks
    every object of the process (40-80 ms of a 1000-port apply). Only the outermost pause turns it back on,
    and only if it was on (a command in its own process runs without it)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


class LazySets(Mapping[str, AddressSet]):
    """Address sets read when first looked at: most ports' filters name none (no ``ipset``), and reading
    even their names is a query."""

    def __init__(self, load: Callable[[], dict[str, AddressSet]]) -> None:
        self._load: Callable[[], dict[str, AddressSet]] | None = load
        self._sets: dict[str, AddressSet] = {}

    def _loaded(self) -> dict[str, AddressSet]:
        if self._load is not None:
            self._sets, self._load = self._load(), None
        return self._sets

    def __getitem__(self, name: str) -> AddressSet:
        return self._loaded()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaded())

    def __len__(self) -> int:
        return len(self._loaded())


def hollow_sets(txn: Reader, declared: ActualTable | None) -> dict[str, AddressSet]:
    """The address sets without the networks of the families whose kernel set is declared already: what the
    incremental plans compile with. A port or a group's chains bring no element of a set the kernel holds
    (its elements follow the store as deltas), so 10,000 provider blocks are not the cost of every change:
    such a set is not even read."""
    have: dict[str, set[int]] = {}
    for name in txn.address_set_names():
        have[name] = set()
        if declared is not None:
            have[name] = {f for f in (4, 6) if names.ipset_set(name, f"v{f}") in declared.sets}
    out = {name: AddressSet(name) for name, families in have.items() if families == {4, 6}}
    wanted = [name for name, families in have.items() if families != {4, 6}]
    for aset in txn.address_sets(wanted) if wanted else ():
        kept = tuple(n for n in aset.networks if n.version not in have[aset.name])
        out[aset.name] = aset if len(kept) == len(aset.networks) else AddressSet(aset.name, kept)
    return out


def open_engine(netns: str | None = None, settings: HostConfig | None = None) -> Engine:
    """An engine for a front end: the namespace's backend (opened when first used) and the host's settings
    (the store's, unless given)."""
    from guestwall.dataplane.backend import LazyBackend

    return Engine(LazyBackend(netns), settings)
